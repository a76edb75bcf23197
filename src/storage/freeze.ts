/**
 * Deep freezing of JSON values that are shared rather than copied (stored resources handed to readers that
 * promised not to change them, cached policy views): a caller that writes to one fails loudly (strict mode
 * TypeError) instead of changing what every other reader sees.
 */

/**
 * Freezes a JSON value and everything in it. A value already frozen is taken as frozen throughout (values are
 * only ever frozen by this function), so freezing again costs one check.
 * @param value - a JSON value
 * @returns the same value, frozen
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
