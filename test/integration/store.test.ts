import { inject } from 'vitest';
import { createDb } from '../../lib/db';
import { ResourceStore } from '../../lib/fhir/store';
import { storeSuite } from '../shared/store-suite';

const { db } = createDb(inject('databaseUrl'));
storeSuite(inject('databaseKind'), () => new ResourceStore(db));
