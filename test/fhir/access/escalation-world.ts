/**
 * A world for the escalation property test: a project with the fixtures of escalation-fixtures.ts and the writer's
 * access token from the real token endpoint. The writer's requests run either over HTTP or through `dispatch()`
 * with a FhirContext built exactly as the FHIR router builds it (bearer check, `CallerAccess` (the principal),
 * AccessControlledRepository, ScopeGate). Between sequences an admin puts the fixtures back.
 */
import request from 'supertest';
import { ConflictError, FhirError } from '../../../src/fhir/errors';
import { CallerAccess } from '../../../src/fhir/access/caller-context';
import { RequestBudget } from '../../../src/fhir/budget';
import { ScopeGate } from '../../../src/fhir/access/scope-gate';
import { FhirRepository, type Resource } from '../../../src/fhir/repository/repository';
import { toPublicView } from '../../../src/fhir/repository/write-only-fields';
import { fhirBaseUrl } from '../../../src/fhir/rest/base-url';
import { dispatch } from '../../../src/fhir/rest/dispatch';
import type { FhirContext, FhirRequest } from '../../../src/fhir/rest/fhir-request';
import { BearerAuthenticator } from '../../../src/oauth/bearer';
import { DpopProofs } from '../../../src/oauth/dpop/dpop';
import { oauthProjectOf } from '../../../src/oauth/project';
import { hasConsent, recordConsentDecision } from '../../../src/oauth/interaction/consent-store';
import { issueAuthorizationCode } from '../../../src/oauth/tokens/authorization-codes';
import { KeyStore } from '../../../src/oauth/tokens/keys';
import type { ResourceDocument } from '../../../src/storage/ports';
import type { Project } from '../../../src/tenancy/projects';
import { pkce, REDIRECT, type OAuthFixture } from '../../oauth/oauth-fixtures';
import { CONSENTED_CLIENTS, fixtureStates, fixtures, WRITER_SECRET } from './escalation-fixtures';
import { userOf } from './escalation-invariants';

type Json = Record<string, unknown>;

const AUTH_TYPES = ['User', 'Membership', 'ClientApplication', 'AccessPolicy'] as const;

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
    const key = { project: project.key, userId: 'nurse', clientId };
    await recordConsentDecision(t.storage.records, key, { shown: ['openid', 'user/*.*'], allowed: ['openid', 'user/*.*'] });
    if (!(await hasConsent(t.storage.records, key, ['user/*.*']))) throw new Error('consent not stored');
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
  const bearer = new BearerAuthenticator(deps, new KeyStore(t.storage.records, t.keyEncryption), new DpopProofs(deps));
  const baseUrl = fhirBaseUrl(t.config.publicUrl, project.tenant, project.name);
  const oauthProject = oauthProjectOf(t.config.publicUrl, project);
  const viaDispatch = async (op: WriteOp): Promise<WriteOutcome> => {
    try {
      const auth = await bearer.authenticate(`Bearer ${token}`, oauthProject, () => ({ method: op.method, url: baseUrl, proof: undefined }));
      const ctx: FhirContext = {
        project,
        repo: await new CallerAccess(store).repository(project.key, auth, new ScopeGate(auth.scopes, auth.patient, baseUrl)),
        baseUrl,
        config: t.config,
        budget: new RequestBudget(t.config.maxResponseBytes, t.config.requestTimeoutMs),
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
