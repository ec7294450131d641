// Rotates the authorization server's signing keys: `node --import tsx scripts/rotate-signing-keys.ts [RS256|ES256 …]`.
// New tokens are signed with the new keys at once (other instances switch within a minute); the old
// public keys stay in /.well-known/jwks.json until every token they signed has expired.
import { rotateSigningKeys, retiredKeyRetentionSeconds, SIGNING_ALGS, type SigningAlg } from '../lib/oauth/keys';

const requested = process.argv.slice(2);
const unknown = requested.filter((a) => !(SIGNING_ALGS as readonly string[]).includes(a));
if (unknown.length) {
  console.error(`unknown algorithm(s): ${unknown.join(', ')} (expected ${SIGNING_ALGS.join(', ')})`);
  process.exit(2);
}
const algs = requested.length ? (requested as SigningAlg[]) : SIGNING_ALGS;
const results = await rotateSigningKeys(algs);
for (const r of results) console.log(`${r.alg}: active ${r.activeKid}${r.retiredKid ? `, retired ${r.retiredKid}` : ''}`);
console.log(`retired public keys stay published for ${retiredKeyRetentionSeconds()} s`);
process.exit(0);
