/**
 * Deterministic "pretty but compact" JSON for the committed definition files.
 *
 * Objects and arrays are indented two spaces per level, except that any value whose one-line form fits in
 * {@link MAX_LINE_WIDTH} columns (counting its indentation and key) is written on one line:
 * `"birthDate": { "min": 0, "max": "1", "types": ["date"] },`. Keys keep the order they were inserted in,
 * so a build that inserts them in a fixed order reproduces its output byte for byte. The file ends with a newline.
 */

/** Lines are folded only when their one-line form would be wider than this. */
export const MAX_LINE_WIDTH = 120;

/**
 * Serializes a JSON value.
 * @param value - a JSON-compatible value (no `undefined` inside arrays, no cycles)
 * @returns the text, ending with a newline
 */
export function formatJson(value: unknown): string {
  return `${format(value, '', 0)}\n`;
}

function format(value: unknown, indent: string, prefixWidth: number): string {
  if (value === null || typeof value !== 'object') {
    return JSON.stringify(value);
  }
  const oneLine = inline(value);
  if (indent.length + prefixWidth + oneLine.length + 1 <= MAX_LINE_WIDTH) {
    return oneLine;
  }
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    const items = value.map((item) => `${inner}${format(item, inner, 0)}`);
    return `[\n${items.join(',\n')}\n${indent}]`;
  }
  const entries = definedEntries(value as Record<string, unknown>).map(([key, item]) => {
    const prefix = `${JSON.stringify(key)}: `;
    return `${inner}${prefix}${format(item, inner, prefix.length)}`;
  });
  return `{\n${entries.join(',\n')}\n${indent}}`;
}

function inline(value: object): string {
  if (Array.isArray(value)) {
    return `[${value.map(inlineItem).join(', ')}]`;
  }
  const entries = definedEntries(value as Record<string, unknown>);
  if (entries.length === 0) {
    return '{}';
  }
  const parts = entries.map(([key, item]) => `${JSON.stringify(key)}: ${inlineItem(item)}`);
  return `{ ${parts.join(', ')} }`;
}

function inlineItem(item: unknown): string {
  return item !== null && typeof item === 'object' ? inline(item) : JSON.stringify(item);
}

function definedEntries(value: Record<string, unknown>): Array<[string, unknown]> {
  return Object.entries(value).filter(([, item]) => item !== undefined);
}
