/**
 * Remembered consent (record kind `consent`), one record per project, user and client holding the scopes the user
 * has allowed that client. A request needs consent again when it asks for a scope outside that set.
 *
 * Every answer on the consent page updates the record for the scopes the page showed, and only those: the latest
 * answer about a scope wins. Allow keeps the scopes it granted (the fixed ones and the ticked resource scopes) and
 * forgets the unticked ones; Deny forgets every scope shown. Scopes allowed earlier and not shown this time stay.
 * So a scope the user unticked is never granted again without asking.
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

/** Whose consent, to which client. */
export interface ConsentKey {
  project: string;
  userId: string;
  clientId: string;
}

function recordKey(key: ConsentKey): string {
  return `${key.project}|${key.userId}|${key.clientId}`;
}

/**
 * The scopes a user has allowed a client.
 * @param records - the record store
 * @param key - project, user and client
 * @returns the remembered scopes (empty when there is no record)
 */
export async function rememberedScopes(records: RecordStore, key: ConsentKey): Promise<string[]> {
  const record = await records.get(KIND, recordKey(key));
  return record ? [...(record.value as unknown as ConsentRecord).scopes] : [];
}

/**
 * Whether every scope was already allowed.
 * @param records - the record store
 * @param key - project, user and client
 * @param scopes - the scopes the request would grant
 * @returns true when consent covers them all
 */
export async function hasConsent(records: RecordStore, key: ConsentKey, scopes: string[]): Promise<boolean> {
  const allowed = new Set(await rememberedScopes(records, key));
  return scopes.every((scope) => allowed.has(scope));
}

/**
 * Records the answer given on the consent page: remembered = (remembered − shown) ∪ allowed. A record left with no
 * scope is deleted.
 * @param records - the record store
 * @param key - project, user and client
 * @param decision - the scopes the page showed, and those of them the user allowed (none for Deny)
 * @param decision.shown - every scope on the page
 * @param decision.allowed - the subset granted
 */
export async function recordConsentDecision(records: RecordStore, key: ConsentKey, decision: { shown: readonly string[]; allowed: readonly string[] }): Promise<void> {
  const shown = new Set(decision.shown);
  const before = await rememberedScopes(records, key);
  const scopes = [...new Set([...before.filter((s) => !shown.has(s)), ...decision.allowed])];
  if (scopes.length === 0) return records.delete(KIND, recordKey(key));
  const value: ConsentRecord = { project: key.project, userId: key.userId, clientId: key.clientId, scopes, updatedAt: new Date().toISOString() };
  await records.put({ kind: KIND, key: recordKey(key), value: { ...value } });
}
