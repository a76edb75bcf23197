/**
 * Pending authorization requests ("interactions", record kind `interaction`). `/authorize` validates a request
 * and stores it here under a random id; the login and consent pages carry the id, and the browser carries it
 * in the interaction cookie. Only the id's SHA-256 is stored. An interaction lives for
 * {@link INTERACTION_LIFETIME_SECONDS} and is consumed (atomically) when it ends, so it completes at most once.
 */
import type { RecordStore } from '../../storage/ports';
import { hashToken, randomToken } from './csrf';

const KIND = 'interaction';

/** How long a user has to sign in and consent. */
export const INTERACTION_LIFETIME_SECONDS = 600;

/** A validated authorization request (RFC 6749 §4.1.1, RFC 7636, OIDC Core §3.1.2.1). */
export interface AuthorizationRequest {
  clientId: string;
  /** The redirect URI that was matched (or the single registered one when omitted). */
  redirectUri: string;
  /** Whether the request carried redirect_uri (the token request must then repeat it). */
  redirectUriGiven: boolean;
  state?: string;
  /** Granted scopes: the requested ones the client may have. */
  scope: string[];
  codeChallenge: string;
  nonce?: string;
  /** OIDC `login_hint`: pre-fills the email field. */
  loginHint?: string;
  /** `prompt` values: none, login, consent. */
  prompt: string[];
  /** `max_age` in seconds. */
  maxAge?: number;
  /**
   * SMART launch context (src/smart/launch-context.ts `LaunchContext`): from the `launch` parameter of an EHR
   * launch, or the patient of a standalone launch. It travels into the authorization code.
   */
  launch?: Record<string, unknown>;
  /** The user who created the EHR launch: only their sign-in completes it. */
  launchUserId?: string;
}

/** Who signed in during the interaction. */
export interface InteractionLogin {
  userId: string;
  membershipId?: string;
  /** Epoch seconds of the authentication. */
  authTime: number;
}

/** A pending interaction. */
export interface Interaction {
  /** The id as the browser knows it (not stored; filled in on load). */
  id: string;
  project: string;
  request: AuthorizationRequest;
  /** CSRF token of the interaction's forms. */
  csrf: string;
  /** Set when the user signed in on this interaction's login page. */
  login?: InteractionLogin;
  createdAt: string;
}

type StoredInteraction = Omit<Interaction, 'id'>;

function recordKey(project: string, id: string): string {
  return `${project}|${hashToken(id)}`;
}

function expiresAt(createdAt: string): string {
  return new Date(Date.parse(createdAt) + INTERACTION_LIFETIME_SECONDS * 1000).toISOString();
}

/**
 * Stores a new interaction.
 * @param records - the record store
 * @param project - the project key
 * @param request - the validated authorization request
 * @returns the interaction, with its id
 */
export async function createInteraction(records: RecordStore, project: string, request: AuthorizationRequest): Promise<Interaction> {
  const id = randomToken();
  const stored: StoredInteraction = { project, request, csrf: randomToken(), createdAt: new Date().toISOString() };
  await records.put({ kind: KIND, key: recordKey(project, id), value: { ...stored }, expiresAt: expiresAt(stored.createdAt) });
  return { id, ...stored };
}

/**
 * Loads a live interaction.
 * @param records - the record store
 * @param project - the project key
 * @param id - the id from the page
 * @returns the interaction, or undefined when unknown or expired
 */
export async function loadInteraction(records: RecordStore, project: string, id: string): Promise<Interaction | undefined> {
  const record = await records.get(KIND, recordKey(project, id));
  if (!record) return undefined;
  const stored = record.value as unknown as StoredInteraction;
  return stored.project === project ? { id, ...stored } : undefined;
}

/**
 * Records the sign-in on an interaction (its lifetime is not extended).
 * @param records - the record store
 * @param interaction - the interaction
 * @param login - who signed in
 * @returns the updated interaction
 */
export async function saveInteractionLogin(records: RecordStore, interaction: Interaction, login: InteractionLogin): Promise<Interaction> {
  const { id, ...stored } = { ...interaction, login };
  await records.put({ kind: KIND, key: recordKey(stored.project, id), value: { ...stored }, expiresAt: expiresAt(stored.createdAt) });
  return { id, ...stored };
}

/**
 * Ends an interaction. Of two concurrent calls only one gets true, so a flow completes at most once.
 * @param records - the record store
 * @param interaction - the interaction
 * @returns true when this call ended it
 */
export async function consumeInteraction(records: RecordStore, interaction: Interaction): Promise<boolean> {
  return (await records.consume(KIND, recordKey(interaction.project, interaction.id))) !== undefined;
}

/**
 * Replaces the authorization request of an interaction (the patient picked for a standalone launch); its
 * lifetime is not extended.
 * @param records - the record store
 * @param interaction - the interaction
 * @param request - the new request
 * @returns the updated interaction
 */
export async function saveInteractionRequest(records: RecordStore, interaction: Interaction, request: AuthorizationRequest): Promise<Interaction> {
  const { id, ...stored } = { ...interaction, request };
  await records.put({ kind: KIND, key: recordKey(stored.project, id), value: { ...stored }, expiresAt: expiresAt(stored.createdAt) });
  return { id, ...stored };
}
