/**
 * Single use of a stored one-time credential (authorization code, refresh token), safe under concurrency: the
 * "used" marker is inserted atomically *before* the credential is consumed, so of two simultaneous redemptions
 * exactly one proceeds and the other is reported as a reuse, with the marker naming what the first one created.
 */
import type { RecordStore, StoredRecord } from '../../storage/ports';

/** The outcome of a redemption. */
export type SingleUse =
  | { status: 'ok'; record: StoredRecord }
  | { status: 'reused'; marker: Record<string, unknown> }
  | { status: 'unknown' };

/** Where the credential and its marker live. */
export interface SingleUseKinds {
  kind: string;
  usedKind: string;
}

/**
 * Redeems a credential once.
 * @param records - the record store
 * @param kinds - record kinds of the credential and of its used marker
 * @param key - the credential's key (its hash)
 * @param marker - builds the marker from the stored credential (what a reuse must revoke) and its expiry
 * @returns ok with the consumed record; reused with the first redemption's marker; or unknown
 */
export async function redeemOnce(
  records: RecordStore,
  kinds: SingleUseKinds,
  key: string,
  marker: (record: StoredRecord) => { value: Record<string, unknown>; expiresAt?: string },
): Promise<SingleUse> {
  const stored = await records.get(kinds.kind, key);
  if (!stored) {
    const used = await records.get(kinds.usedKind, key);
    return used ? { status: 'reused', marker: used.value } : { status: 'unknown' };
  }
  const mark = marker(stored);
  const first = await records.insert({ kind: kinds.usedKind, key, value: mark.value, expiresAt: mark.expiresAt });
  if (!first) return { status: 'reused', marker: (await records.get(kinds.usedKind, key))?.value ?? {} };
  const consumed = await records.consume(kinds.kind, key);
  return consumed ? { status: 'ok', record: consumed } : { status: 'unknown' };
}
