/**
 * Property: whatever sequence of writes of User, Membership, AccessPolicy and ClientApplication a non-admin
 * principal sends (its AccessPolicy permits every interaction on those types), the privileged principals of its
 * project stay exactly as they were and its own effective access never grows (docs/access-policies.md "Writing
 * auth resources"), the principals policies target stay who they are, and no Membership id moves to another
 * user. Sequences are drawn from a seeded xorshift32 generator (the seed is printed on failure and
 * the run is reproducible from it); each world is a fresh project whose state accumulates over its sequences,
 * except that an admin puts the fixtures back before each sequence.
 * Writes run through `dispatch()` with the caller built as the FHIR router builds it, and a share of them over
 * HTTP; a share of the guard refusals is replayed over the other path, which must answer the same.
 */
import { setupOAuth, type OAuthFixture } from '../../oauth/oauth-fixtures';
import { OpGenerator, xorshift32 } from './escalation-ops';
import { fixtureTemplates } from './escalation-fixtures';
import { effectiveAccess, privilegedState, targetIdentities, updateControlled } from './escalation-invariants';
import { createWorld, type WriteOp, type WriteOutcome } from './escalation-world';

const SEED = 0x5eed_c0de;
const WORLDS = 6;
const SEQUENCES_PER_WORLD = 50;
const HTTP_SHARE = 0.1;
const REPLAY_SHARE = 0.15;
/** What a write of the writer may answer; anything else (a 5xx above all) fails the property. */
const EXPECTED_STATUSES = new Set([200, 201, 204, 400, 403, 404, 409, 410, 412, 422]);

let fx: OAuthFixture;
beforeAll(async () => {
  fx = await setupOAuth();
});
afterAll(async () => {
  await fx.t.close();
});

const added = (before: string[], after: string[]): string[] => after.filter((entry) => !before.includes(entry));
const removed = (before: string[], after: string[]): string[] => before.filter((entry) => !after.includes(entry));

it(`keeps privileged principals and the writer's access unchanged over ${WORLDS * SEQUENCES_PER_WORLD} random write sequences (seed 0x${SEED.toString(16)})`, async () => {
  const random = xorshift32(SEED);
  const generator = new OpGenerator(random, HTTP_SHARE, fixtureTemplates());
  const stats = { writes: 0, succeeded: 0, guarded: 0, http: 0, replayed: 0 };
  for (let worldIndex = 0; worldIndex < WORLDS; worldIndex++) {
    const world = await createWorld(fx, `w${worldIndex}`);
    const start = await world.scan();
    const privileged = privilegedState(start);
    const controlled = new Set<string>();
    updateControlled(start, start, controlled);
    const access = effectiveAccess(start, controlled, world.consentedClients);
    const identities = targetIdentities(start);
    const owners = await world.membershipUsers();
    const self = ['User/writer', 'Membership/m-writer', 'AccessPolicy/p-writer'].map((k) => `${k}@${start.get(k)?.versionId ?? 'absent'}`);
    for (let sequence = 0; sequence < SEQUENCES_PER_WORLD; sequence++) {
      await world.restore();
      const ops = generator.sequence(3 + Math.floor(random() * 8));
      const outcomes: Array<WriteOp & WriteOutcome> = [];
      const fail = (problem: string): never => {
        throw new Error(
          `${problem}\nseed 0x${SEED.toString(16)}, world ${worldIndex}, sequence ${sequence}\n` +
            outcomes.map((o) => JSON.stringify(o)).join('\n'),
        );
      };
      for (const op of ops) {
        const outcome = await world.run(op);
        outcomes.push({ ...op, ...outcome });
        stats.writes++;
        if (op.http) stats.http++;
        if (!EXPECTED_STATUSES.has(outcome.status)) fail(`unexpected status ${outcome.status}`);
        if (outcome.status < 300) stats.succeeded++;
        const guardRefusal = outcome.status === 403 && outcome.diagnostics?.startsWith('Forbidden: ') === true;
        if (guardRefusal) stats.guarded++;
        // A refusal changes nothing: the same write over the other path must answer the same.
        if (guardRefusal && random() < REPLAY_SHARE) {
          const replay = await world.run({ ...op, http: !op.http });
          stats.replayed++;
          if (replay.status !== outcome.status || replay.diagnostics !== outcome.diagnostics) {
            fail(`replayed over the other path: ${JSON.stringify(replay)} instead of ${JSON.stringify(outcome)}`);
          }
        }
      }
      const docs = await world.scan();
      updateControlled(start, docs, controlled);
      const privilegedNow = privilegedState(docs);
      if (privilegedNow.join() !== privileged.join()) {
        fail(`privileged principals changed: added ${JSON.stringify(added(privileged, privilegedNow))}, removed ${JSON.stringify(removed(privileged, privilegedNow))}`);
      }
      const grown = added(access, effectiveAccess(docs, controlled, world.consentedClients));
      if (grown.length > 0) fail(`the writer's effective access grew: ${JSON.stringify(grown)} (controls ${JSON.stringify([...controlled])})`);
      const selfNow = ['User/writer', 'Membership/m-writer', 'AccessPolicy/p-writer'].map((k) => `${k}@${docs.get(k)?.versionId ?? 'absent'}`);
      if (selfNow.join() !== self.join()) fail(`the writer's own principal changed: ${JSON.stringify(selfNow)}`);
      for (const [target, identity] of targetIdentities(docs)) {
        const was = identities.get(target) ?? 'none';
        if (identity !== was && identity !== 'none') fail(`${target}, which AccessPolicies target, became ${identity} (was ${was})`);
      }
      for (const [id, user] of await world.membershipUsers()) {
        if (owners.has(id) && owners.get(id) !== user) fail(`Membership/${id} moved from ${String(owners.get(id))} to ${String(user)}`);
        owners.set(id, user);
      }
    }
  }
  // The property is not vacuous: many writes went through, many were refused by the guards, both paths ran.
  expect(stats.succeeded).toBeGreaterThan(stats.writes * 0.15);
  expect(stats.guarded).toBeGreaterThan(stats.writes * 0.15);
  expect(stats.http).toBeGreaterThan(50);
  expect(stats.replayed).toBeGreaterThan(20);
}, 120_000);
