/** Text normalization shared by indexing and queries. */

/**
 * Folds a string for case- and accent-insensitive matching: NFD, combining marks removed, lowercased,
 * whitespace collapsed.
 * @param value - the text
 * @returns the folded text
 */
export function fold(value: string): string {
  return value
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * Escapes text for use inside a RegExp, so user input is always literal.
 * @param value - the text
 * @returns the escaped text
 */
export function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}
