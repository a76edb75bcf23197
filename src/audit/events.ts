/**
 * The decision-event port (DESIGN §5.9): the access layer and the OAuth endpoints describe every decision they
 * make as one event and hand it to a {@link DecisionListener}; what becomes of it (an AuditEvent, nothing) is the
 * listener's business. Recording must never slow or fail the request: `record` is synchronous, cheap and never
 * throws.
 *
 * Events carry identifiers only, never a credential: no token, code, secret, password or client assertion. The
 * resources a FHIR interaction touched travel as references to the (already public, frozen) documents, so that
 * the patient compartment they belong to is worked out off the request path.
 */

/** Who made a request, as far as it is known. */
export interface Caller {
  /** `tenant/project`. */
  project: string;
  /** The client (`ClientApplication` id). */
  clientId?: string;
  /** The User id, when a user is involved. */
  userId?: string;
  /** Absolute URL or reference of the user's linked resource (`fhirUser`). */
  fhirUser?: string;
  /** The patient in context (id). */
  patient?: string;
  /** `owner`, `admin`, `member`. */
  role?: string;
  /** The client's address as Express sees it (`req.ip`, honouring TRUST_PROXY). */
  ip?: string;
  /** The process that acted when no request did (the `keys` command, the server itself). */
  operator?: string;
}

/** How a decision turned out. */
export interface DecisionOutcome {
  /** The HTTP status answered. */
  status: number;
  /** `permitted`: the access layer let it through (it may still fail for another reason); `refused`: it did not. */
  decision: 'permitted' | 'refused';
  /** What refused: the token's scopes, the access policies, a read-only type, authentication. */
  refusedBy?: 'scope' | 'policy' | 'read-only' | 'authentication';
  /** The AccessPolicy rule that decided (`AccessPolicy/x rule[0]`), or the role or policy that granted full access. */
  rule?: string;
  /** A short, server-written description (an error's diagnostics, never client input or credentials). */
  detail?: string;
}

/** A resource a FHIR interaction read, wrote, or returned. */
export interface TouchedResource {
  type: string;
  id: string;
  versionId?: string;
  /** The resource's public view, when at hand (its patient compartment is computed from it, off the request path). */
  resource?: Record<string, unknown>;
  /** The stored search values, when the document came with them (they spare recomputing the compartment). */
  index?: Record<string, unknown>;
}

/** One FHIR REST interaction (a request, or one entry of a batch or transaction). */
export interface RestEvent {
  kind: 'rest';
  /** When the decision was made (epoch milliseconds). */
  at: number;
  caller: Caller;
  /** read, vread, search-type, create, update, patch, delete, history-*, batch, transaction, operation, capabilities. */
  interaction: string;
  method: string;
  /** The path under the FHIR base (`Patient/1`). */
  path: string;
  resourceType?: string;
  id?: string;
  /** The query string without `_format` (and without any credential-like parameter). */
  query?: string;
  /** True for an entry of a batch or transaction. */
  bundleEntry?: boolean;
  touched: TouchedResource[];
  /** True when more resources were touched than the event lists. */
  truncated?: boolean;
  outcome: DecisionOutcome;
}

/** Events of the authorization server and of the server's own security configuration. */
export type SecurityEventName =
  | 'token-issued'
  | 'token-refreshed'
  | 'token-failed'
  | 'refresh-token-reuse'
  | 'token-revoked'
  | 'revocation-failed'
  | 'introspection-failed'
  | 'userinfo-failed'
  | 'login'
  | 'login-failed'
  | 'consent-granted'
  | 'consent-denied'
  | 'launch-created'
  | 'launch-failed'
  | 'pushed-request-failed'
  | 'client-registered'
  | 'client-registration-updated'
  | 'client-registration-deleted'
  | 'registration-failed'
  | 'signing-key-created'
  | 'signing-key-rotated';

/** One security event. */
export interface SecurityEvent {
  kind: 'security';
  name: SecurityEventName;
  at: number;
  caller: Caller;
  /** The OAuth grant type of a token request. */
  grantType?: string;
  /** The OAuth error code of a failure (`invalid_grant`). */
  error?: string;
  outcome: DecisionOutcome;
  /** Identifiers involved (grant id, key id, launch id): never a credential. */
  entities?: Array<{ reference?: string; name: string; value?: string }>;
}

/** Anything the listener hears. */
export type DecisionEvent = RestEvent | SecurityEvent;

/** The listener port. */
export interface DecisionListener {
  /** Takes one event; never throws, never waits. */
  record(event: DecisionEvent): void;
}

/** The listener that drops everything (AUDIT=off). */
export const NO_AUDIT: DecisionListener = { record: () => undefined };

/** Query parameters never copied into an event (they would be credentials, or are irrelevant). */
const HIDDEN_PARAMETERS = new Set(['_format', 'access_token', 'code', 'state', 'refresh_token', 'client_secret', 'client_assertion', 'password', 'token']);

/**
 * The query string of a FHIR request as an event keeps it: in order, `_format` and credential-like names left out.
 * @param query - name/value pairs
 * @returns the encoded query, or undefined when nothing is left
 */
export function auditQuery(query: ReadonlyArray<readonly [string, string]>): string | undefined {
  if (query.length === 0) return undefined;
  const params = new URLSearchParams();
  for (const [name, value] of query) if (!HIDDEN_PARAMETERS.has(name)) params.append(name, value);
  const text = params.toString();
  return text === '' ? undefined : text;
}
