/**
 * JSON Pointer (RFC 6901) for JSON Patch, strict: a pointer is `""` or `/`-separated tokens in which `~` is only
 * ever `~0` or `~1`; array elements are named by canonical indexes (`0`, `17`, never `01` or `+1`), `-` names the
 * slot after the last element; object members are own members only (`toString` is not a member of `{}`).
 * Tokens that reach object prototypes (`__proto__`, `constructor`, `prototype`) are refused outright: no FHIR
 * element has such a name.
 */

/** A JSON value as parsed from a request body. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const BANNED_TOKENS = new Set(['__proto__', 'constructor', 'prototype']);
const CANONICAL_INDEX = /^(?:0|[1-9]\d{0,8})$/;

/** Why a pointer is not syntactically acceptable (undefined when it is). */
export type PointerSyntaxError = 'not-a-pointer' | 'bad-escape' | 'banned-token';

/**
 * Splits a pointer into unescaped tokens.
 * @param pointer - the pointer text
 * @returns the tokens (`[]` for the whole document), or why the pointer is refused
 */
export function parsePointer(pointer: string): string[] | PointerSyntaxError {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) return 'not-a-pointer';
  const tokens: string[] = [];
  for (const raw of pointer.slice(1).split('/')) {
    if (/~(?![01])/.test(raw)) return 'bad-escape';
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (BANNED_TOKENS.has(token)) return 'banned-token';
    tokens.push(token);
  }
  return tokens;
}

/**
 * Whether `prefix` names a proper ancestor of `tokens` (a value cannot be moved into one of its children).
 * @param prefix - the candidate ancestor
 * @param tokens - the descendant
 * @returns true when prefix is a strict prefix of tokens
 */
export function isProperPrefix(prefix: string[], tokens: string[]): boolean {
  return prefix.length < tokens.length && prefix.every((token, i) => tokens[i] === token);
}

/** A container (object or array) and the token naming one of its slots. */
export interface Slot {
  parent: Json[] | { [key: string]: Json };
  token: string;
}

/**
 * The slot a non-empty pointer names: every token but the last must name an existing container.
 * @param document - the document
 * @param tokens - the pointer's tokens (at least one)
 * @returns the slot, or undefined when an ancestor does not exist or is not a container
 */
export function slotOf(document: Json, tokens: string[]): Slot | undefined {
  let current: Json = document;
  for (const token of tokens.slice(0, -1)) {
    const child = childOf(current, token);
    if (child === undefined) return undefined;
    current = child;
  }
  if (current === null || typeof current !== 'object') return undefined;
  return { parent: current, token: tokens[tokens.length - 1] as string };
}

/**
 * The value a pointer names.
 * @param document - the document
 * @param tokens - the pointer's tokens
 * @returns the value, or undefined when it does not exist
 */
export function valueAt(document: Json | undefined, tokens: string[]): Json | undefined {
  let current: Json | undefined = document;
  for (const token of tokens) {
    current = current === undefined ? undefined : childOf(current, token);
  }
  return current;
}

/**
 * The index an existing array element's token names.
 * @param array - the array
 * @param token - the token
 * @returns the index, or undefined when the token is not a canonical index below the length
 */
export function existingIndex(array: Json[], token: string): number | undefined {
  if (!CANONICAL_INDEX.test(token)) return undefined;
  const index = Number(token);
  return index < array.length ? index : undefined;
}

/**
 * The index at which `add` inserts: a canonical index up to the length, or `-` for the end.
 * @param array - the array
 * @param token - the token
 * @returns the index, or undefined when the token names no insertion point
 */
export function insertionIndex(array: Json[], token: string): number | undefined {
  if (token === '-') return array.length;
  if (!CANONICAL_INDEX.test(token)) return undefined;
  const index = Number(token);
  return index <= array.length ? index : undefined;
}

function childOf(value: Json, token: string): Json | undefined {
  if (Array.isArray(value)) {
    const index = existingIndex(value, token);
    return index === undefined ? undefined : value[index];
  }
  if (value !== null && typeof value === 'object' && Object.hasOwn(value, token)) return value[token];
  return undefined;
}
