/**
 * Pending federated sign-ins (record kind `federated-flow`): what the callback must check, stored when the
 * browser is sent to the provider — the provider, the interaction it continues, the `nonce` expected in the
 * id_token and the PKCE code verifier. The record is found by the SHA-256 of `state` (the random value that
 * travels through the provider) and consumed atomically by the first callback that presents it, so a callback
 * URL — and the code and nonce in it — works once. It lives as long as an interaction.
 */
import type { RecordStore } from '../../storage/ports';
import { hashToken } from '../interaction/csrf';
import { INTERACTION_LIFETIME_SECONDS } from '../interaction/interaction-store';

const KIND = 'federated-flow';

/** One pending federated sign-in. */
export interface FederatedFlow {
  project: string;
  providerId: string;
  interactionId: string;
  nonce: string;
  codeVerifier?: string;
  /** The email the user typed on the email-first step, if any (a login_hint, never trusted for matching). */
  loginHint?: string;
  createdAt: string;
}

function key(project: string, state: string): string {
  return `${project}|${hashToken(state)}`;
}

/**
 * Stores a flow under its state.
 * @param records - the record store
 * @param state - the state sent to the provider
 * @param flow - what the callback checks
 */
export async function saveFlow(records: RecordStore, state: string, flow: FederatedFlow): Promise<void> {
  const expiresAt = new Date(Date.parse(flow.createdAt) + INTERACTION_LIFETIME_SECONDS * 1000).toISOString();
  await records.put({ kind: KIND, key: key(flow.project, state), value: { ...flow }, expiresAt });
}

/**
 * Takes a flow: of two callbacks with the same state only the first gets it.
 * @param records - the record store
 * @param project - the project key
 * @param state - the state from the callback
 * @returns the flow, or undefined when unknown, expired or already used
 */
export async function consumeFlow(records: RecordStore, project: string, state: string): Promise<FederatedFlow | undefined> {
  if (state.length === 0 || state.length > 256) return undefined;
  const record = await records.consume(KIND, key(project, state));
  const flow = record?.value as unknown as FederatedFlow | undefined;
  return flow?.project === project ? flow : undefined;
}
