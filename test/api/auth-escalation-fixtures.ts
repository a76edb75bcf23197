/**
 * The world of the auth-resource guard tests: a project with an owner, an admin, a member whose Membership has a
 * full-access policy, a nurse with a rule-engine policy, clients with and without policies, policies naming ids
 * that do not exist yet, deleted Memberships, Users and clients, and a non-admin "user manager" whose
 * AccessPolicy permits every interaction on User, Membership, AccessPolicy and ClientApplication. Tokens come
 * from the real token endpoint; refusals are checked on the wire and against what is stored.
 */
import request from 'supertest';
import { ADMIN, codeTokens, FHIR, oauthPost, PROJECT, setupOAuth, type OAuthFixture } from '../oauth/oauth-fixtures';

type Json = Record<string, unknown>;
const FHIR_JSON = 'application/fhir+json';

/** Requests of one bearer token under the FHIR base. */
export interface Caller {
  get(path: string): request.Test;
  post(path: string, body: unknown): request.Test;
  put(path: string, body: unknown): request.Test;
  patch(path: string, body: unknown): request.Test;
  delete(path: string): request.Test;
}

/** The world; see the module comment. */
export interface EscalationWorld {
  fx: OAuthFixture;
  admin: Caller;
  manager: Caller;
  /** The id of the admin User of the OAuth fixture and of its Membership. */
  adminUserId: string;
  adminMembershipId: string;
  /** Writes a resource with the admin token (PUT). */
  put(resource: Json): Promise<Json>;
  /** The stored current document (with credential hashes), for "nothing changed" checks. */
  stored(type: string, id: string): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * Requests with a bearer token.
 * @param fx - the fixture
 * @param token - the access token
 * @returns the caller
 */
export function caller(fx: OAuthFixture, token: string): Caller {
  const app = () => request(fx.t.app);
  const auth = (test: request.Test) => test.set('Authorization', `Bearer ${token}`);
  return {
    get: (path) => auth(app().get(`${FHIR}${path}`)),
    post: (path, body) => auth(app().post(`${FHIR}${path}`)).set('Content-Type', FHIR_JSON).send(body as object),
    put: (path, body) => auth(app().put(`${FHIR}${path}`)).set('Content-Type', FHIR_JSON).send(body as object),
    patch: (path, body) => auth(app().patch(`${FHIR}${path}`)).set('Content-Type', 'application/json-patch+json').send(body as object),
    delete: (path) => auth(app().delete(`${FHIR}${path}`)),
  };
}

/**
 * An AccessPolicy.
 * @param id - its id (also its name)
 * @param targets - the references it targets
 * @param engine - its engine
 * @returns the resource
 */
export function accessPolicy(id: string, targets: string[], engine: 'full-access' | 'rule-engine' = 'rule-engine'): Json {
  return {
    resourceType: 'AccessPolicy',
    id,
    name: id,
    engine,
    target: targets.map((reference) => ({ link: { reference } })),
    ...(engine === 'rule-engine' ? { rule: [{ name: 'read patients', target: { expression: "%request.resourceType = 'Patient'" } }] } : {}),
  };
}

/**
 * A confidential client_credentials client.
 * @param id - its id
 * @param secret - its secret
 * @returns the resource
 */
export function backendClient(id: string, secret: string): Json {
  return { resourceType: 'ClientApplication', id, name: id, status: 'active', grantType: ['client_credentials'], tokenEndpointAuthMethod: 'client_secret_basic', secret, scope: 'system/*.*' };
}

/**
 * A member User.
 * @param id - its id (the email is derived from it)
 * @returns the resource
 */
export function member(id: string): Json {
  return { resourceType: 'User', id, email: `${id}@example.test`, role: 'member' };
}

/**
 * A Membership.
 * @param id - its id
 * @param userId - the User it belongs to
 * @returns the resource
 */
export function membership(id: string, userId: string): Json {
  return { resourceType: 'Membership', id, user: { reference: `User/${userId}` }, active: true };
}

/** The one reason given for refusals that follow from stored state the writer may not read. */
export const GUARDED = 'only owners and admins may make this change: it touches a principal or client that the auth-resource guards protect (docs/access-policies.md "Writing auth resources")';

/**
 * Asserts a refusal by the guards: 403, exactly one `forbidden` issue with the reason.
 * @param res - the response
 * @param reason - the reason after `Forbidden: `
 */
export function expectRefused(res: request.Response, reason: string): void {
  expect({ status: res.status, body: res.body as unknown }).toEqual({
    status: 403,
    body: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'forbidden', diagnostics: `Forbidden: ${reason}` }] },
  });
}

/**
 * Builds the world.
 * @returns the world
 */
export async function setupEscalationWorld(): Promise<EscalationWorld> {
  const fx = await setupOAuth();
  const adminToken = (await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, ADMIN)).body.access_token as string;
  const admin = caller(fx, adminToken);
  const put = async (resource: Json): Promise<Json> => {
    const res = await admin.put(`/${String(resource.resourceType)}/${String(resource.id)}`, resource);
    if (res.status >= 300) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
    return res.body as Json;
  };
  const remove = async (path: string): Promise<void> => {
    const res = await admin.delete(path);
    if (res.status !== 204) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
  };
  // The user manager: any interaction on the auth resources.
  await put({ ...member('manager'), password: 'password of the manager' });
  await put(membership('m-manager', 'manager'));
  await put({
    ...accessPolicy('manager-policy', ['Membership/m-manager']),
    rule: [{ name: 'manage auth resources', target: { expression: "%request.resourceType in ('User' | 'Membership' | 'AccessPolicy' | 'ClientApplication')" } }],
  });
  // A nurse (rule-engine policy), a deputy (full-access policy on a member's Membership), a clerk.
  await put({ ...member('nurse'), password: 'password of the nurse' });
  await put({ ...membership('m-nurse', 'nurse'), link: { reference: 'Practitioner/nurse' } });
  await put(accessPolicy('nurse-policy', ['Membership/m-nurse']));
  await put({ ...member('deputy'), password: 'password of the deputy' });
  await put(membership('m-deputy', 'deputy'));
  await put(accessPolicy('deputy-full-access', ['Membership/m-deputy'], 'full-access'));
  await put(member('clerk'));
  // Clients: one a rule-engine policy targets, one a full-access policy targets.
  await put(backendClient('lab', 'secret of the lab client'));
  await put(accessPolicy('lab-policy', ['ClientApplication/lab']));
  await put(backendClient('fa-client', 'secret of the full-access client'));
  await put(accessPolicy('fa-client-policy', ['ClientApplication/fa-client'], 'full-access'));
  // Policies naming ids that do not exist yet, and a Membership of a User that does not exist.
  await put(accessPolicy('future-policy', ['Membership/m-future', 'ClientApplication/c-future']));
  await put(membership('m-ghost', 'ghost'));
  await put(accessPolicy('ghost-policy', ['Membership/m-ghost']));
  // Deleted ids: a Membership (plain and targeted), a User, a client.
  await put(membership('m-gone', 'clerk'));
  await remove('/Membership/m-gone');
  await put(membership('m-gone-targeted', 'clerk'));
  await put(accessPolicy('gone-policy', ['Membership/m-gone-targeted']));
  await remove('/Membership/m-gone-targeted');
  await put(member('left'));
  await remove('/User/left');
  await put(backendClient('c-gone', 'secret of a deleted client'));
  await remove('/ClientApplication/c-gone');
  const managerToken = (await codeTokens(fx, { userId: 'manager', membershipId: 'm-manager' })).access_token as string;
  return {
    fx,
    admin,
    manager: caller(fx, managerToken),
    adminUserId: fx.adminId,
    adminMembershipId: fx.adminMembershipId,
    put,
    stored: (type, id) => fx.t.storage.resources.readCurrent(PROJECT, type, id),
    close: () => fx.t.close(),
  };
}

/**
 * What the admin reads at some paths, and what is stored for some resources: equal before and after a refused
 * write means nothing changed (no version, no credential hash).
 * @param world - the world
 * @param paths - FHIR paths to read (resources, histories, searches)
 * @returns the snapshot
 */
export async function snapshot(world: EscalationWorld, paths: string[]): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const path of paths) {
    const res = await world.admin.get(path);
    const body = res.body as Json;
    // Bundles carry their own id and timestamp; compare their entries.
    out.push({ path, status: res.status, body: body.resourceType === 'Bundle' ? body.entry ?? [] : body });
    const match = /^\/(User|Membership|ClientApplication|AccessPolicy)\/([^/?]+)$/.exec(path);
    if (match) out.push(await world.stored(match[1] as string, match[2] as string));
  }
  return out;
}
