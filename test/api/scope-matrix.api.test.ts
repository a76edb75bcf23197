/**
 * The scope-enforcement matrix (docs/smart.md "Scopes on the FHIR API"): for each of {patient, user, system} ×
 * {v1, v2} × {c, r, u, d, s} × {the patient in context, another patient} × {restricted, unrestricted}, the status
 * the FHIR API answers, with real tokens (authorization code with an EHR launch for patient/ and user/ scopes,
 * client_credentials for system/ scopes). The callers' AccessPolicies permit everything, so only scopes narrow.
 * v1 scopes cannot carry a restriction, so {v1, restricted} does not exist.
 *
 * Expected (the restriction is category=laboratory; every target is a vital-signs Observation, so a restricted
 * scope never matches it): allowed = (not patient/ or the patient in context) and unrestricted;
 *   r → 200 | 404,  s → 200 with the match | 200 empty Bundle,  c → 201 | 403,  u → 200 | 404,  d → 204 | 404
 * and an interaction outside the scope's permissions → 403 insufficient_scope.
 */
import request from 'supertest';
import { codeTokens, FHIR, oauthPost, setupOAuth, type OAuthFixture } from '../oauth/oauth-fixtures';

const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const RESTRICTION = `?category=${encodeURIComponent(`${CATEGORY}|laboratory`)}`;
const FHIR_JSON = 'application/fhir+json';
type Context = 'patient' | 'user' | 'system';
type Permission = 'c' | 'r' | 'u' | 'd' | 's';
let fx: OAuthFixture;
let serial = 0;

const vital = (id: string, patient: string) => ({
  resourceType: 'Observation', id, status: 'final', code: { text: 'pulse' }, subject: { reference: `Patient/${patient}` },
  category: [{ coding: [{ system: CATEGORY, code: 'vital-signs' }] }],
});

function scopeFor(context: Context, version: 1 | 2, permission: Permission, restricted: boolean): string {
  if (version === 1) return `${context}/Observation.${permission === 'r' || permission === 's' ? 'read' : 'write'}`;
  return `${context}/Observation.${permission}${restricted ? RESTRICTION : ''}`;
}

async function tokenFor(context: Context, scope: string): Promise<string> {
  if (context === 'system') {
    const res = await oauthPost(fx.t, 'token', { grant_type: 'client_credentials', scope }, ['matrix-system', 'matrix-system-secret-0123456789']);
    if (res.body.scope !== scope) throw new Error(`system token for ${scope}: ${JSON.stringify(res.body)}`);
    return res.body.access_token as string;
  }
  const launch = context === 'patient' ? { source: 'ehr', patient: 'p1' } : undefined;
  const tokens = await codeTokens(fx, { userId: fx.adminId, membershipId: fx.adminMembershipId, scope: [scope], ...(launch ? { launch } : {}) });
  return tokens.access_token as string;
}

const cases: Array<[Context, 1 | 2, Permission, 'in compartment' | 'other patient', 'restricted' | 'unrestricted']> = [];
for (const context of ['patient', 'user', 'system'] as const) {
  for (const version of [1, 2] as const) {
    for (const permission of ['c', 'r', 'u', 'd', 's'] as const) {
      for (const target of ['in compartment', 'other patient'] as const) {
        for (const restriction of ['restricted', 'unrestricted'] as const) {
          if (version === 1 && restriction === 'restricted') continue;
          cases.push([context, version, permission, target, restriction]);
        }
      }
    }
  }
}

beforeAll(async () => {
  fx = await setupOAuth();
  await fx.repo.update('ClientApplication', 'matrix-system', {
    resourceType: 'ClientApplication', id: 'matrix-system', name: 'Matrix', status: 'active', grantType: ['client_credentials'],
    secret: 'matrix-system-secret-0123456789', scope: `system/Observation.cruds system/Observation.cruds${RESTRICTION}`,
  });
  await fx.repo.update('AccessPolicy', 'matrix-system', {
    resourceType: 'AccessPolicy', id: 'matrix-system', name: 'Matrix', engine: 'full-access', target: [{ link: { reference: 'ClientApplication/matrix-system' } }],
  });
  for (const id of ['p1', 'p2']) await fx.repo.update('Patient', id, { resourceType: 'Patient', id });
});
afterAll(async () => {
  await fx.t.close();
});

it(`covers ${cases.length} combinations`, () => {
  expect(cases).toHaveLength(90);
});

describe.each(cases)('%s/ scopes, v%s, %s, %s, %s', (context, version, permission, target, restriction) => {
  it('answers as documented', async () => {
    const patient = target === 'in compartment' ? 'p1' : 'p2';
    const id = `m${++serial}-${patient}`;
    await fx.repo.update('Observation', id, vital(id, patient));
    const token = await tokenFor(context, scopeFor(context, version, permission, restriction === 'restricted'));
    const allowed = (context !== 'patient' || target === 'in compartment') && restriction === 'unrestricted';
    const call = (method: 'get' | 'post' | 'put' | 'delete', path: string, body?: object) => {
      const req = request(fx.t.app)[method](`${FHIR}${path}`).set('Authorization', `Bearer ${token}`);
      return body ? req.set('Content-Type', FHIR_JSON).send(body) : req;
    };
    let res: request.Response;
    switch (permission) {
      case 'r':
        res = await call('get', `/Observation/${id}`);
        expect(res.status).toBe(allowed ? 200 : 404);
        break;
      case 's': {
        res = await call('get', `/Observation?_id=${id}`);
        expect(res.status).toBe(200);
        // A search shows only what the token could read: v2 `s` alone searches but reads nothing; v1 `read` is `rs`.
        expect((res.body.entry ?? []).map((e: { resource: { id: string } }) => e.resource.id)).toEqual(allowed && version === 1 ? [id] : []);
        break;
      }
      case 'c':
        res = await call('post', '/Observation', vital('ignored', patient));
        expect(res.status).toBe(allowed ? 201 : 403);
        break;
      case 'u':
        res = await call('put', `/Observation/${id}`, { ...vital(id, patient), status: 'amended' });
        // Outside the scope the token cannot read the resource either (u without r): the PUT is answered as for an
        // unknown id, i.e. as the create of the same body, which the same scope refuses.
        expect(res.status).toBe(allowed ? 200 : 403);
        break;
      case 'd':
        res = await call('delete', `/Observation/${id}`);
        expect(res.status).toBe(allowed ? 204 : 404);
        break;
    }
    // Outside the scope's permissions: refused whatever the resource.
    const granted = version === 1 ? (permission === 'r' || permission === 's' ? 'rs' : 'cud') : permission;
    const outside = granted.includes('d') ? await call('get', `/Observation/${id}`) : await call('delete', `/Observation/${id}`);
    expect(outside.status).toBe(403);
    expect(outside.headers['www-authenticate']).toMatch(/^Bearer error="insufficient_scope"/);
  });
});
