// Placeholder replaced by the synthetic-data seeder.
console.log('seed: nothing to do');
