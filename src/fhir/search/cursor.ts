/**
 * The paging cursor carried in `self`/`next`/`previous` links (`_cursor`): the snapshot instant fixed by the
 * first page, the direction, and the sort key of the boundary entry (one value per sort field, `_id` last).
 * It is base64url JSON; it is decoded strictly, and its key values can only be strings, numbers or null, so a
 * forged cursor can change which page is returned but never the shape of the query.
 */
import type { Sort } from '../../storage/ports';
import { BadRequestError } from '../errors';

/** One value of a sort key: what a sort field holds (missing → null). */
export type KeyValue = string | number | null;

/** A position in a result set. */
export interface Cursor {
  /** The snapshot instant (ISO) chosen by the first page. */
  snapshot: string;
  /** `next`: entries after `key`; `previous`: entries before `key`. */
  direction: 'next' | 'previous';
  /** The boundary key (exclusive); null = from the start. */
  key: KeyValue[] | null;
}

const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const MAX_CURSOR_LENGTH = 8192;

function bad(message: string): BadRequestError {
  return new BadRequestError(`Search parameter _cursor: ${message}`, ['_cursor']);
}

/**
 * Encodes a cursor for a link.
 * @param cursor - the cursor
 * @returns the `_cursor` value
 */
export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify({ s: cursor.snapshot, d: cursor.direction === 'next' ? 'n' : 'p', k: cursor.key }), 'utf8').toString('base64url');
}

function isKeyValue(value: unknown): value is KeyValue {
  return value === null || typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

/**
 * Decodes and checks a `_cursor` value against the search's sort.
 * @param text - the `_cursor` value
 * @param sort - the search's sort fields (the key must have one value per field)
 * @returns the cursor
 * @throws BadRequestError when the cursor is malformed or belongs to another sort
 */
export function decodeCursor(text: string, sort: Sort): Cursor {
  if (text.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(text)) throw bad('not a cursor from a link of this server');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw bad('not a cursor from a link of this server');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad('not a cursor from a link of this server');
  const { s, d, k } = parsed as Record<string, unknown>;
  if (typeof s !== 'string' || !INSTANT.test(s) || Number.isNaN(Date.parse(s))) throw bad('bad snapshot');
  if (d !== 'n' && d !== 'p') throw bad('bad direction');
  if (k !== null && !(Array.isArray(k) && k.length === sort.length && k.every(isKeyValue))) {
    throw bad('the cursor does not belong to this sort order');
  }
  return { snapshot: s, direction: d === 'n' ? 'next' : 'previous', key: k as KeyValue[] | null };
}

/**
 * A fresh cursor for the first page.
 * @param now - the current time in ms
 * @returns the cursor
 */
export function firstPageCursor(now: number = Date.now()): Cursor {
  // One millisecond ahead: versions written in the current millisecond belong to the snapshot.
  return { snapshot: new Date(now + 1).toISOString(), direction: 'next', key: null };
}
