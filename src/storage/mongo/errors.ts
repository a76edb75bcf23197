/**
 * Recognising MongoDB duplicate-key errors and which index raised them.
 */
import { MongoServerError } from 'mongodb';

/** A duplicate-key (E11000) server error with the index key pattern and values the server reported. */
export interface DuplicateKeyInfo {
  keyPattern: Record<string, unknown>;
  keyValue: Record<string, unknown>;
}

/**
 * Reads a duplicate-key error.
 *
 * @param err - any thrown value
 * @returns the key pattern and values, or undefined when `err` is not a duplicate-key error
 */
export function duplicateKeyInfo(err: unknown): DuplicateKeyInfo | undefined {
  if (!(err instanceof MongoServerError) || err.code !== 11000) return undefined;
  const keyPattern: unknown = err.keyPattern;
  const keyValue: unknown = err.keyValue;
  return {
    keyPattern: keyPattern !== null && typeof keyPattern === 'object' ? (keyPattern as Record<string, unknown>) : {},
    keyValue: keyValue !== null && typeof keyValue === 'object' ? (keyValue as Record<string, unknown>) : {},
  };
}
