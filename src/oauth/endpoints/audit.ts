/**
 * The security events of the JSON endpoints (docs/audit.md): one step, first in each endpoint's chain, that records
 * the outcome once the response is sent — token issuance, refresh and failures; revocations and their failures;
 * failed introspection and userinfo requests; EHR launches. The other steps only leave what they learnt in
 * `res.locals` (the project, the authenticated client, {@link AuditDetail}); nothing here sees a credential: the
 * event names the client, the user and the grant type, never a token, code, secret or assertion.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Caller, SecurityEventName } from '../../audit/events';
import type { OAuthDeps } from '../deps';
import { oauthLocals } from './steps';

/** What steps tell the audit step about the request (identifiers only). */
export interface AuditDetail {
  userId?: string;
  clientId?: string;
  patient?: string;
  /** The OAuth error code and description of a failure (set by the error renderer). */
  error?: { code: string; description: string };
  entities?: Array<{ reference?: string; name: string; value?: string }>;
}

type Endpoint = 'token' | 'introspect' | 'revoke' | 'userinfo' | 'launch' | 'par' | 'register';

/**
 * The audit detail of a response (created on first use).
 * @param res - the response
 * @returns its detail
 */
export function auditDetail(res: Response): AuditDetail {
  const locals = res.locals as { auditDetail?: AuditDetail };
  locals.auditDetail ??= {};
  return locals.auditDetail;
}

const REGISTRATION_EVENTS: Record<string, SecurityEventName | undefined> = {
  POST: 'client-registered',
  PUT: 'client-registration-updated',
  DELETE: 'client-registration-deleted',
};

function eventName(endpoint: Endpoint, ok: boolean, grantType: string | undefined, method: string): SecurityEventName | undefined {
  switch (endpoint) {
    case 'par':
      return ok ? undefined : 'pushed-request-failed';
    case 'register':
      return ok ? REGISTRATION_EVENTS[method] : 'registration-failed';
    case 'token':
      return ok ? (grantType === 'refresh_token' ? 'token-refreshed' : 'token-issued') : 'token-failed';
    case 'revoke':
      return ok ? 'token-revoked' : 'revocation-failed';
    case 'introspect':
      return ok ? undefined : 'introspection-failed';
    case 'userinfo':
      return ok ? undefined : 'userinfo-failed';
    case 'launch':
      return ok ? 'launch-created' : 'launch-failed';
  }
}

/** Grant types an event may name (anything else a client sent is summarized). */
const GRANT_TYPES = new Set(['authorization_code', 'client_credentials', 'refresh_token']);

/**
 * The step that records an endpoint's outcome.
 * @param deps - OAuth dependencies (the listener)
 * @param endpoint - which endpoint
 * @returns the step
 */
export function auditOutcome(deps: OAuthDeps, endpoint: Endpoint): RequestHandler {
  return function auditOutcomeStep(req: Request, res: Response, next: NextFunction): void {
    res.once('finish', () => {
      const { project, params, client } = oauthLocals(res);
      // An unknown project has no trail to write to.
      if (!project) return;
      const ok = res.statusCode < 400;
      const rawGrant = endpoint === 'token' ? params?.grant_type : undefined;
      const grantType = rawGrant === undefined ? undefined : GRANT_TYPES.has(rawGrant) ? rawGrant : 'unsupported';
      const name = eventName(endpoint, ok, grantType, req.method);
      if (!name) return;
      const detail = auditDetail(res);
      const caller: Caller = { project: project.key };
      const clientId = client?.client.id ?? detail.clientId;
      if (typeof clientId === 'string') caller.clientId = clientId;
      if (detail.userId) caller.userId = detail.userId;
      if (detail.patient) caller.patient = detail.patient;
      if (req.ip) caller.ip = req.ip;
      const entities = [...(detail.entities ?? [])];
      // A client that did not authenticate is named only as claimed.
      const claimed = params?.client_id;
      if (!client && claimed && claimed !== caller.clientId && /^[A-Za-z0-9\-._~]{1,128}$/.test(claimed)) entities.push({ name: 'claimed client_id', value: claimed });
      deps.audit.record({
        kind: 'security',
        name,
        at: Date.now(),
        caller,
        ...(grantType ? { grantType } : {}),
        ...(detail.error ? { error: detail.error.code } : {}),
        outcome: { status: res.statusCode, decision: ok ? 'permitted' : 'refused', ...(detail.error ? { detail: detail.error.description.slice(0, 300) } : {}) },
        ...(entities.length > 0 ? { entities } : {}),
      });
    });
    next();
  };
}
