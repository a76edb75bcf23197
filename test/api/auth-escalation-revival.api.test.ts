/**
 * The auth-resource guards judge a PUT on a deleted id as a change of the version the deletion removed. When the
 * writer may not read that version (a read of the id is a 404), the refusal must name none of it
 * (docs/access-policies.md "Writing auth resources": named reasons only for "a resource it can read"). Today the
 * reason tells that the id is a deleted User, whether it was an owner/admin, and whether a guessed email is its email.
 */
import request from 'supertest';
import { codeTokens, FHIR, oauthPost, setupOAuth, type OAuthFixture } from '../oauth/oauth-fixtures';

const FHIR_JSON = 'application/fhir+json';
let fx: OAuthFixture;
let admin: string;
let clerk: string;
type Json = Record<string, unknown>;

const send = (token: string, method: 'get' | 'put' | 'delete', path: string, body?: unknown) => {
  const req = request(fx.t.app)[method](`${FHIR}${path}`).set('Authorization', `Bearer ${token}`);
  return body === undefined ? req : req.set('Content-Type', FHIR_JSON).send(body as object);
};

async function put(resource: Json): Promise<void> {
  const res = await send(admin, 'put', `/${String(resource.resourceType)}/${String(resource.id)}`, resource);
  if (res.status >= 300) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
}

const user = (id: string, email: string, role: string, family: string, extra: Json = {}): Json => ({
  resourceType: 'User', id, email, role, name: { family }, ...extra,
});
const diagnostics = (res: request.Response): string => String(res.body.issue?.[0]?.diagnostics);

beforeAll(async () => {
  fx = await setupOAuth();
  admin = (await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, ['admin-cli', 'admin-client-secret-for-tests'])).body.access_token as string;
  // Two Users the clerk never could read, both deleted: a former admin and a former member.
  await put(user('d-admin', 'former-admin@example.test', 'admin', 'Hidden'));
  await put(user('d-member', 'former-member@example.test', 'member', 'Hidden'));
  for (const id of ['d-admin', 'd-member']) expect((await send(admin, 'delete', `/User/${id}`)).status).toBe(204);
  // The clerk creates and updates Users, and reads only those of family 'Visible'.
  await put({ resourceType: 'User', id: 'clerk', email: 'clerk@example.test', role: 'member', password: 'password of the clerk!' });
  await put({ resourceType: 'Membership', id: 'clerk', user: { reference: 'User/clerk' }, active: true });
  await put({
    resourceType: 'AccessPolicy', id: 'clerk', name: 'clerk', engine: 'rule-engine', target: [{ link: { reference: 'Membership/clerk' } }],
    rule: [
      { name: 'write users', target: { expression: "%request.resourceType = 'User' and %request.interaction in ('create' | 'update')" } },
      {
        name: 'read visible users',
        target: { expression: "%request.resourceType = 'User' and %request.interaction in ('read' | 'vread' | 'search-type' | 'history-instance')" },
        condition: { expression: "%resource.name.family = 'Visible'" },
      },
    ],
  });
  clerk = (await codeTokens(fx, { userId: 'clerk', membershipId: 'clerk' })).access_token as string;
});
afterAll(async () => {
  await fx.t.close();
});

it('the clerk may not read either deleted User (the premise)', async () => {
  for (const id of ['d-admin', 'd-member']) {
    expect((await send(clerk, 'get', `/User/${id}`)).status).toBe(404);
    expect((await send(clerk, 'get', `/User/${id}/_history`)).status).toBe(404);
  }
  // A new User of the same shape is the clerk's to create.
  expect((await send(clerk, 'put', '/User/fresh', user('fresh', 'fresh@example.test', 'member', 'Visible', { password: 'initial password!' }))).status).toBe(201);
});

it('PUTs on those ids get one answer that names no role, email, password or deletion', async () => {
  const formerAdmin = await send(clerk, 'put', '/User/d-admin', user('d-admin', 'guess@example.test', 'member', 'Visible'));
  const wrongEmail = await send(clerk, 'put', '/User/d-member', user('d-member', 'guess@example.test', 'member', 'Visible'));
  const withPassword = await send(clerk, 'put', '/User/d-member', user('d-member', 'former-member@example.test', 'member', 'Visible', { password: 'chosen password!' }));
  // Answered as a create at an id in use that the clerk may not know of (docs/access-policies.md "404 or 403").
  for (const res of [formerAdmin, wrongEmail, withPassword]) expect(res.status).toBe(409);
  // Today: "...grant, change or remove the owner and admin roles" (the deleted User was an admin),
  // "...change the email of a deleted User they re-create" (the guess is wrong),
  // "...set the password of a deleted User they re-create".
  const named = (res: request.Response): string => diagnostics(res).replace(/d-(admin|member)/g, 'ID');
  expect(named(wrongEmail)).toBe(named(formerAdmin));
  expect(named(withPassword)).toBe(named(formerAdmin));
  for (const res of [formerAdmin, wrongEmail, withPassword]) expect(diagnostics(res)).not.toMatch(/deleted|admin role|email|password/);
});

it('a PUT on a deleted User the writer may not read answers the same whether its guessed email is right or wrong', async () => {
  const wrong = await send(clerk, 'put', '/User/d-member', user('d-member', 'guess@example.test', 'member', 'Visible'));
  // Today the right guess revives the User (201, version 3): an email oracle on a User the clerk may not read.
  const right = await send(clerk, 'put', '/User/d-member', user('d-member', 'former-member@example.test', 'member', 'Visible'));
  expect(right.status).toBe(wrong.status);
  expect(diagnostics(right)).toBe(diagnostics(wrong));
});
