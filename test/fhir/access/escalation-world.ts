/**
 * A world for the escalation property test: one project with an owner, an admin, a member whose Membership has a
 * full-access policy, a nurse with a rule-engine policy, clients with and without policies, policies naming ids
 * that do not exist, deleted ids (targeted and not), and a non-admin writer whose AccessPolicy permits every
 * interaction on User, Membership, AccessPolicy and ClientApplication. The writer's access token comes from the
 * real token endpoint; its requests run either over HTTP or through `dispatch()` with a FhirContext built
 * exactly as the FHIR router builds it (bearer check, `loadPrincipal`, AccessControlledRepository, ScopeGate).
 *
 * The invariants are read from the store with the server's authority:
 * - {@link privilegedState}: owner/admin Users, full-access policies, the principals they target and the Users
 *   those Memberships name, and every Membership of those Users, each with its version; plus every AccessPolicy;
 * - {@link effectiveAccess}: what the writer can act as — itself, Users whose credentials it set or that it
 *   created, clients it created or whose credentials it set — and the policies, roles, consent bypasses and other
 *   users' consents those principals carry;
 * - {@link targetIdentities}: the principals AccessPolicies target keep their user and link (Memberships) or
 *   credentials and OAuth settings (clients), or stop being live; and `membershipUsers`: a Membership id never
 *   changes its user, not even through deletion and re-creation.
 */
import request from 'supertest';
import { ConflictError, FhirError } from '../../../src/fhir/errors';
import { AccessControlledRepository } from '../../../src/fhir/access/access-controlled-repository';
import { ScopeGate } from '../../../src/fhir/access/scope-gate';
import { FhirRepository, type Resource } from '../../../src/fhir/repository/repository';
import { toPublicView } from '../../../src/fhir/repository/write-only-fields';
import { REFERENCE_TARGET, referenceOf } from '../../../src/fhir/reference-patterns';
import { fhirBaseUrl } from '../../../src/fhir/rest/base-url';
import { dispatch } from '../../../src/fhir/rest/dispatch';
import type { FhirContext, FhirRequest } from '../../../src/fhir/rest/fhir-request';
import { BearerAuthenticator } from '../../../src/oauth/bearer';
import { oauthProjectOf } from '../../../src/oauth/project';
import { hasConsent, rememberConsent } from '../../../src/oauth/interaction/consent-store';
import { issueAuthorizationCode } from '../../../src/oauth/tokens/authorization-codes';
import { KeyStore } from '../../../src/oauth/tokens/keys';
import { loadPrincipal, policyCacheFor } from '../../../src/policy';
import { verifySecret } from '../../../src/security/hashing';
import type { ResourceDocument } from '../../../src/storage/ports';
import type { Project } from '../../../src/tenancy/projects';
import { oauthPost, pkce, REDIRECT, type OAuthFixture } from '../../oauth/oauth-fixtures';

type Json = Record<string, unknown>;

/** One write of the writer. */
export interface WriteOp {
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  type: string;
  id?: string;
  body?: unknown;
  /** Over HTTP with the bearer token (otherwise through dispatch()). */
  http: boolean;
}

/** What a write answered. */
export interface WriteOutcome {
  status: number;
  diagnostics?: string;
}

/** One project and its writer. */
export interface World {
  project: Project;
  run(op: WriteOp): Promise<WriteOutcome>;
  /** Every live document of the auth resource types, by `Type/id`. */
  scan(): Promise<Map<string, ResourceDocument>>;
  /** The user of every Membership id ever used (of the version a deletion removed, for deleted ones). */
  membershipUsers(): Promise<Map<string, string | undefined>>;
  /** Clients other users have consented to (a consent record is stored): whoever controls one gets their codes. */
  consentedClients: ReadonlySet<string>;
  /**
   * An admin puts the fixtures back as they were (what the writer deleted, deactivated or renamed; ids deleted at
   * the start deleted again), so that every sequence meets them; credentials are kept as they are.
   */
  restore(): Promise<void>;
}

/** Clients the nurse consented to in every world. */
const CONSENTED_CLIENTS = ['c-plain', 'c-rule', 'c-gone-plain'];

const AUTH_TYPES = ['User', 'Membership', 'ClientApplication', 'AccessPolicy'] as const;
const WRITER_SECRET = 'secret of the writer app';

const user = (id: string, role = 'member'): Json => ({ resourceType: 'User', id, email: `${id}@x.test`, role });
const membership = (id: string, userId: string): Json => ({ resourceType: 'Membership', id, user: { reference: `User/${userId}` }, active: true });
const client = (id: string, extra: Json = {}): Json => ({
  resourceType: 'ClientApplication', id, name: id, status: 'active', grantType: ['client_credentials'], tokenEndpointAuthMethod: 'client_secret_basic', secret: `secret of ${id}`, scope: 'system/*.*', ...extra,
});
const policy = (id: string, targets: string[], engine = 'rule-engine', rule: Json[] = [{ name: 'patients', target: { expression: "%request.resourceType = 'Patient'" } }]): Json => ({
  resourceType: 'AccessPolicy', id, name: id, engine, target: targets.map((reference) => ({ link: { reference } })), ...(engine === 'rule-engine' ? { rule } : {}),
});

/** The fixture resources, in order; `{ delete }` deletes the resource named. */
export function fixtures(): Json[] {
  return [
    user('owner', 'owner'), membership('m-owner', 'owner'),
    user('adm', 'admin'), membership('m-adm', 'adm'),
    user('deputy'), membership('m-deputy', 'deputy'), policy('p-deputy', ['Membership/m-deputy'], 'full-access'),
    user('nurse'), { ...membership('m-nurse', 'nurse'), link: { reference: 'Practitioner/n1' } }, policy('p-nurse', ['Membership/m-nurse']),
    user('clerk'), membership('m-clerk', 'clerk'),
    user('writer'), membership('m-writer', 'writer'),
    policy('p-writer', ['Membership/m-writer'], 'rule-engine', [
      { name: 'auth resources', target: { expression: "%request.resourceType in ('User' | 'Membership' | 'AccessPolicy' | 'ClientApplication')" } },
    ]),
    membership('m-gone', 'clerk'), { delete: 'Membership/m-gone' },
    membership('m-gone-t', 'nurse'), policy('p-gone', ['Membership/m-gone-t']), { delete: 'Membership/m-gone-t' },
    user('left'), membership('m-left', 'left'), policy('p-left', ['Membership/m-left']), { delete: 'User/left' },
    membership('m-ghost', 'ghost'), policy('p-ghost', ['Membership/m-ghost']),
    policy('p-future', ['Membership/m-future', 'ClientApplication/c-future']),
    client('c-rule'), policy('p-crule', ['ClientApplication/c-rule']),
    client('c-fa'), policy('p-cfa', ['ClientApplication/c-fa'], 'full-access'),
    client('c-plain', { grantType: ['authorization_code'], redirectUri: ['https://plain.example/cb'], scope: 'user/*.*' }),
    client('c-gone'), policy('p-cgone', ['ClientApplication/c-gone']), { delete: 'ClientApplication/c-gone' },
    client('c-gone-plain'), { delete: 'ClientApplication/c-gone-plain' },
    client('writer-app', { grantType: ['authorization_code'], redirectUri: [REDIRECT], scope: 'openid fhirUser user/*.*', secret: WRITER_SECRET }),
  ];
}

/**
 * The fixtures as a client reads them (no credentials), by `Type/id`: bodies to PUT back, possibly changed.
 * @returns the templates
 */
export function fixtureTemplates(): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const { secret: _secret, password: _password, ...resource } of fixtures()) {
    if (typeof resource.resourceType === 'string') out.set(`${resource.resourceType}/${String(resource.id)}`, resource);
  }
  return out;
}

/**
 * Creates a project, its fixtures, and the writer's token.
 * @param fx - the app
 * @param name - the project name (tenant `prop`)
 * @returns the world
 */
export async function createWorld(fx: OAuthFixture, name: string): Promise<World> {
  const { t, deps } = fx;
  const { project } = await t.projects.ensure('prop', name);
  const store = t.storage.resources;
  const repo = new FhirRepository(store, project.key);
  for (const entry of fixtures()) {
    if (typeof entry.delete === 'string') {
      const [type, id] = entry.delete.split('/') as [string, string];
      await repo.delete(type, id);
    } else {
      await repo.update(entry.resourceType as string, entry.id as string, entry as Json & { resourceType: string });
    }
  }
  for (const clientId of CONSENTED_CLIENTS) {
    await rememberConsent(t.storage.records, project.key, 'nurse', clientId, ['openid', 'user/*.*']);
    if (!(await hasConsent(t.storage.records, project.key, 'nurse', clientId, ['user/*.*']))) throw new Error('consent not stored');
  }
  const oauthBase = `/w/prop/${name}/api/v1/oauth`;
  const fhirPath = `/w/prop/${name}/api/v1/fhir/r4`;
  const { verifier, challenge } = pkce();
  const code = await issueAuthorizationCode(deps, {
    project: project.key, clientId: 'writer-app', redirectUri: REDIRECT, codeChallenge: challenge, scope: ['openid', 'fhirUser', 'user/*.*'],
    userId: 'writer', membershipId: 'm-writer', authTime: Math.floor(Date.now() / 1000),
  });
  const tokenRes = await request(t.app).post(`${oauthBase}/token`).type('form').auth('writer-app', WRITER_SECRET)
    .send({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier });
  if (tokenRes.status !== 200) throw new Error(`token: ${tokenRes.status} ${JSON.stringify(tokenRes.body)}`);
  const token = tokenRes.body.access_token as string;
  // The FHIR router's steps, without HTTP: bearer check, principal, repository, scopes, dispatch.
  const bearer = new BearerAuthenticator(deps, new KeyStore(t.storage.records));
  const baseUrl = fhirBaseUrl(t.config.publicUrl, project.tenant, project.name);
  const oauthProject = oauthProjectOf(t.config.publicUrl, project);
  const viaDispatch = async (op: WriteOp): Promise<WriteOutcome> => {
    try {
      const auth = await bearer.authenticate(`Bearer ${token}`, oauthProject);
      const principal = await loadPrincipal(policyCacheFor(store), store, auth);
      const ctx: FhirContext = {
        project,
        repo: new AccessControlledRepository(new FhirRepository(store, project.key), principal, new ScopeGate(auth.scopes, auth.patient, baseUrl)),
        baseUrl,
        config: t.config,
        auth,
      };
      const req: FhirRequest = {
        method: op.method,
        path: op.id === undefined ? [op.type] : [op.type, op.id],
        query: [],
        contentType: op.method === 'PATCH' ? 'application/json-patch+json' : 'application/fhir+json',
        body: op.body,
        headers: {},
      };
      return { status: (await dispatch(ctx, req, { checkContentType: op.body !== undefined })).status };
    } catch (err) {
      if (err instanceof FhirError) return { status: err.status, diagnostics: err.issues[0]?.diagnostics };
      throw err;
    }
  };
  const viaHttp = async (op: WriteOp): Promise<WriteOutcome> => {
    const path = `${fhirPath}/${op.type}${op.id === undefined ? '' : `/${op.id}`}`;
    const method = op.method.toLowerCase() as 'post' | 'put' | 'patch' | 'delete';
    let test = request(t.app)[method](path).set('Authorization', `Bearer ${token}`);
    if (op.body !== undefined) test = test.set('Content-Type', op.method === 'PATCH' ? 'application/json-patch+json' : 'application/fhir+json').send(op.body as object);
    const res = await test;
    return { status: res.status, diagnostics: (res.body as { issue?: Array<{ diagnostics?: string }> }).issue?.[0]?.diagnostics };
  };
  return {
    project,
    run: (op) => (op.http ? viaHttp(op) : viaDispatch(op)),
    scan: async () => {
      const out = new Map<string, ResourceDocument>();
      for (const type of AUTH_TYPES) {
        for (const doc of await store.search({ project: project.key, type, deleted: false })) if (doc.resource) out.set(`${type}/${doc.id}`, doc);
      }
      return out;
    },
    membershipUsers: async () => {
      const out = new Map<string, string | undefined>();
      for (const doc of await store.search({ project: project.key, type: 'Membership' })) {
        const live = doc.deleted ? await store.readVersion(project.key, 'Membership', doc.id, doc.versionId - 1) : doc;
        out.set(doc.id, userOf(live));
      }
      return out;
    },
    consentedClients: new Set(CONSENTED_CLIENTS.map((c) => `ClientApplication/${c}`)),
    restore: async () => {
      const { live, deleted } = fixtureStates();
      for (const [key, fixture] of live) {
        const [type, id] = key.split('/') as [string, string];
        const current = await repo.readCurrent(type, id);
        const stale = !current?.resource || current.deleted || !sameContent(current.resource, fixture);
        if (!stale) continue;
        // Revived with its credentials; otherwise the stored hashes are kept (the write omits them).
        const body = current?.resource && !current.deleted ? publicOf(fixture) : fixture;
        try {
          await repo.update(type, id, body as Resource);
        } catch (err) {
          // The writer took its email for a User of its own: that fixture stays away.
          if (!(err instanceof ConflictError)) throw err;
        }
      }
      for (const key of deleted) {
        const [type, id] = key.split('/') as [string, string];
        const current = await repo.readCurrent(type, id);
        if (current && !current.deleted) await repo.delete(type, id);
      }
    },
  };
}

const publicOf = (resource: Json): Json => {
  const { meta: _meta, ...rest } = toPublicView(resource);
  return rest;
};
const sameContent = (stored: Json, fixture: Json): boolean => JSON.stringify(sortKeys(publicOf(stored))) === JSON.stringify(sortKeys(publicOf(fixture)));
const sortKeys = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(sortKeys)
    : typeof value === 'object' && value !== null
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, sortKeys(v)]))
      : value;

/** The fixtures live at the end of the fixture list (with credentials), and the ids deleted by then. */
function fixtureStates(): { live: Map<string, Json>; deleted: Set<string> } {
  const live = new Map<string, Json>();
  const deleted = new Set<string>();
  for (const entry of fixtures()) {
    const key = typeof entry.delete === 'string' ? entry.delete : `${String(entry.resourceType)}/${String(entry.id)}`;
    if (typeof entry.delete === 'string') {
      live.delete(key);
      deleted.add(key);
    } else {
      live.set(key, entry);
      deleted.delete(key);
    }
  }
  return { live, deleted };
}

/** The secret each fixture client was given (only the admin knows them). */
const FIXTURE_SECRETS = new Map(
  fixtures()
    .filter((f) => f.resourceType === 'ClientApplication' && typeof f.secret === 'string')
    .map((f) => [`ClientApplication/${String(f.id)}`, f.secret as string]),
);

const PRIVILEGED_ROLES = new Set(['owner', 'admin']);
/** What makes a client who it is: how it authenticates, where its codes go, what it may get, whether users are asked. */
/**
 * A client's secret for comparisons: `fixture secret` when it is still the one the admin gave it (an admin
 * revival hashes it again), else the stored hash.
 */
const secretOf = (key: string, doc: ResourceDocument): unknown => {
  const hash = res(doc).secret;
  const fixture = FIXTURE_SECRETS.get(key);
  return fixture !== undefined && typeof hash === 'string' && verifySecret(fixture, hash) ? 'fixture secret' : hash;
};
const CLIENT_IDENTITY = ['secret', 'jwks', 'jwksUri', 'redirectUri', 'tokenEndpointAuthMethod', 'grantType', 'consentRequired', 'launchUri', 'scope'];
const res = (doc: ResourceDocument | undefined): Json => (doc?.resource ?? {}) as Json;
const userOf = (doc: ResourceDocument | undefined): string | undefined => {
  const match = REFERENCE_TARGET.exec(referenceOf(res(doc).user) ?? '');
  return match?.[1] === 'User' ? `User/${match[2] as string}` : undefined;
};
const targetsOf = (doc: ResourceDocument): string[] =>
  ((res(doc).target as Array<{ link?: unknown }> | undefined) ?? []).map((t) => referenceOf(t.link)).filter((r): r is string => r !== undefined);
const versioned = (docs: Map<string, ResourceDocument>, key: string): string => `${key}@${docs.get(key)?.versionId ?? 'absent'}`;

/**
 * The privileged principals and every AccessPolicy, with versions (see the module comment).
 * @param docs - a scan
 * @returns sorted entries
 */
export function privilegedState(docs: Map<string, ResourceDocument>): string[] {
  const out = new Set<string>();
  const fullAccessTargets = new Set(
    [...docs].filter(([key, doc]) => key.startsWith('AccessPolicy/') && res(doc).engine === 'full-access').flatMap(([, doc]) => targetsOf(doc)),
  );
  // Owners and admins, and Users a full-access policy reaches through one of their Memberships.
  const privilegedUsers = [...docs.keys()].filter((k) => k.startsWith('User/') && PRIVILEGED_ROLES.has(String(res(docs.get(k)).role)));
  for (const target of fullAccessTargets) {
    const targetUser = userOf(docs.get(target));
    if (targetUser) privilegedUsers.push(targetUser);
  }
  for (const key of privilegedUsers) out.add(versioned(docs, key));
  for (const [key, doc] of docs) {
    const owner = key.startsWith('Membership/') ? userOf(doc) : undefined;
    if (owner && privilegedUsers.includes(owner)) out.add(versioned(docs, key));
    if (!key.startsWith('AccessPolicy/')) continue;
    out.add(versioned(docs, key));
    if (res(doc).engine !== 'full-access') continue;
    for (const target of targetsOf(doc)) {
      out.add(`full-access:${versioned(docs, target)}`);
      const targetUser = userOf(docs.get(target));
      if (targetUser) out.add(`full-access:${versioned(docs, targetUser)}`);
    }
  }
  return [...out].sort();
}

/**
 * Principals the writer controls: itself, every User it created or whose password hash or email changed, every
 * client it created or whose credentials or OAuth settings changed (`start` is the scan the world began with;
 * besides the writer only {@link World.restore} writes, and it puts back what was there). Sets grow
 * monotonically in `controlled`.
 * @param start - the first scan
 * @param docs - the current scan
 * @param controlled - principals found so far (updated)
 */
export function updateControlled(start: Map<string, ResourceDocument>, docs: Map<string, ResourceDocument>, controlled: Set<string>): void {
  controlled.add('User/writer');
  const credentials: Record<string, string[]> = {
    User: ['password', 'email'],
    ClientApplication: CLIENT_IDENTITY,
  };
  for (const [key, doc] of docs) {
    const fields = credentials[doc.type];
    if (!fields) continue;
    const was = start.get(key);
    // A fixture client the admin revived has a new hash of the same secret: compare the secret itself.
    const value = (d: ResourceDocument | undefined, f: string): string => JSON.stringify(d && f === 'secret' ? secretOf(key, d) : res(d)[f]);
    const changed = (f: string): boolean => value(was, f) !== value(doc, f);
    if (!was || fields.some(changed)) controlled.add(key);
  }
}

/**
 * What the controlled principals can do: policies targeting their Memberships or themselves (with versions),
 * privileged roles, clients that skip consent, and clients other users consented to.
 * @param docs - a scan
 * @param controlled - the controlled principals
 * @param consented - clients other users consented to
 * @returns sorted entries
 */
export function effectiveAccess(docs: Map<string, ResourceDocument>, controlled: Set<string>, consented: ReadonlySet<string>): string[] {
  const out = new Set<string>();
  const principals = new Set<string>();
  for (const key of controlled) {
    const doc = docs.get(key);
    if (!doc) continue;
    if (key.startsWith('ClientApplication/')) {
      principals.add(key);
      if (res(doc).consentRequired === false) out.add(`skips-consent:${key}`);
      if (consented.has(key)) out.add(`consented-to:${key}`);
    } else if (PRIVILEGED_ROLES.has(String(res(doc).role))) {
      out.add(`role:${key}`);
    }
  }
  for (const [key, doc] of docs) {
    const owner = key.startsWith('Membership/') ? userOf(doc) : undefined;
    if (owner && controlled.has(owner)) principals.add(key);
  }
  for (const [key, doc] of docs) {
    if (!key.startsWith('AccessPolicy/')) continue;
    for (const target of targetsOf(doc)) if (principals.has(target)) out.add(`${versioned(docs, key)} via ${target}`);
  }
  return [...out].sort();
}

/**
 * Who each principal an AccessPolicy targets is: a Membership's user and link, a client's credentials and OAuth
 * settings, or `none` when it is not live. Policies apply to ids, so these must not change under them.
 * @param docs - a scan
 * @returns identity by target reference
 */
export function targetIdentities(docs: Map<string, ResourceDocument>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, doc] of docs) {
    if (!key.startsWith('AccessPolicy/')) continue;
    for (const target of targetsOf(doc)) {
      const subject = docs.get(target);
      const fields = target.startsWith('Membership/') ? ['user', 'link'] : CLIENT_IDENTITY;
      out.set(target, subject ? JSON.stringify(fields.map((f) => (f === 'secret' ? secretOf(target, subject) : res(subject)[f]) ?? null)) : 'none');
    }
  }
  return out;
}
