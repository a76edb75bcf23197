/**
 * Remembered consent (record kind `consent`), one record per project, user and client holding every scope the
 * user has allowed that client. A request needs consent again when it asks for a scope outside that set.
 */
import type { RecordStore } from '../../storage/ports';

const KIND = 'consent';

/** What a user allowed a client. */
export interface ConsentRecord {
  project: string;
  userId: string;
  clientId: string;
  scopes: string[];
  updatedAt: string;
}

function recordKey(project: string, userId: string, clientId: string): string {
  return `${project}|${userId}|${clientId}`;
}

/**
 * Whether every scope was already allowed.
 * @param records - the record store
 * @param project - the project key
 * @param userId - the User id
 * @param clientId - the client id
 * @param scopes - the scopes the request would grant
 * @returns true when consent covers them all
 */
export async function hasConsent(records: RecordStore, project: string, userId: string, clientId: string, scopes: string[]): Promise<boolean> {
  const record = await records.get(KIND, recordKey(project, userId, clientId));
  if (!record) return false;
  const allowed = new Set((record.value as unknown as ConsentRecord).scopes);
  return scopes.every((scope) => allowed.has(scope));
}

/**
 * Remembers consent to scopes, keeping what was allowed before.
 * @param records - the record store
 * @param project - the project key
 * @param userId - the User id
 * @param clientId - the client id
 * @param scopes - the scopes just allowed
 */
export async function rememberConsent(records: RecordStore, project: string, userId: string, clientId: string, scopes: string[]): Promise<void> {
  const key = recordKey(project, userId, clientId);
  const previous = await records.get(KIND, key);
  const before = previous ? (previous.value as unknown as ConsentRecord).scopes : [];
  const value: ConsentRecord = { project, userId, clientId, scopes: [...new Set([...before, ...scopes])], updatedAt: new Date().toISOString() };
  await records.put({ kind: KIND, key, value: { ...value } });
}
