/**
 * Login sessions (record kind `session`): created on a successful sign-in, identified by the random id in the
 * `fhir_session` cookie (only its SHA-256 is stored), scoped to one project, and ended by logout or expiry.
 * A new id is issued on every sign-in (no session fixation).
 */
import type { RecordStore } from '../../storage/ports';
import { hashToken, randomToken } from './csrf';

const KIND = 'session';

/** A login session. */
export interface Session {
  /** The cookie value (not stored). */
  id: string;
  project: string;
  userId: string;
  membershipId?: string;
  /** Epoch seconds of the sign-in. */
  authTime: number;
  /** CSRF token for forms that act on the session itself (logout). */
  csrf: string;
  expiresAt: string;
}

function recordKey(project: string, id: string): string {
  return `${project}|${hashToken(id)}`;
}

/**
 * Starts a session.
 * @param records - the record store
 * @param data - project, user and sign-in time
 * @param lifetimeSeconds - how long it lasts
 * @returns the session with its new id
 */
export async function createSession(
  records: RecordStore,
  data: Pick<Session, 'project' | 'userId' | 'membershipId' | 'authTime'>,
  lifetimeSeconds: number,
): Promise<Session> {
  const id = randomToken();
  const expiresAt = new Date(Date.now() + lifetimeSeconds * 1000).toISOString();
  const stored: Omit<Session, 'id'> = { ...data, csrf: randomToken(), expiresAt };
  if (stored.membershipId === undefined) delete stored.membershipId;
  await records.put({ kind: KIND, key: recordKey(data.project, id), value: { ...stored }, expiresAt });
  return { id, ...stored };
}

/**
 * Loads a live session.
 * @param records - the record store
 * @param project - the project key
 * @param id - the cookie value
 * @returns the session, or undefined
 */
export async function loadSession(records: RecordStore, project: string, id: string): Promise<Session | undefined> {
  const record = await records.get(KIND, recordKey(project, id));
  if (!record) return undefined;
  const stored = record.value as unknown as Omit<Session, 'id'>;
  return stored.project === project ? { id, ...stored } : undefined;
}

/**
 * Ends a session.
 * @param records - the record store
 * @param project - the project key
 * @param id - the cookie value
 */
export async function deleteSession(records: RecordStore, project: string, id: string): Promise<void> {
  await records.delete(KIND, recordKey(project, id));
}
