/**
 * The journal line of a resource write, `{"t":"resources","docs":[v1,v2,...]}`, with the byte position of each
 * version inside it. History is not kept in memory: a version is found again by its journal offset and length, so
 * lines are built (live writes, compaction) and read back (replay) knowing where every version starts and ends.
 */

/** What every resources line starts with (`JSON.stringify` of `{ t: 'resources', docs }` starts the same way). */
export const RESOURCES_PREFIX = '{"t":"resources","docs":[';
const SUFFIX = ']}';
const PREFIX_BYTES = Buffer.byteLength(RESOURCES_PREFIX);

/** Where one version's JSON lies, relative to the start of its line or file. */
export interface VersionSpan {
  offset: number;
  length: number;
}

/**
 * Joins serialized versions into one resources line.
 *
 * @param texts - each version as `JSON.stringify` output
 * @returns the line (no newline) and each version's span relative to the line's first byte
 */
export function buildResourcesLine(texts: readonly string[]): { line: string; spans: VersionSpan[] } {
  const spans: VersionSpan[] = new Array<VersionSpan>(texts.length);
  let offset = PREFIX_BYTES;
  for (let i = 0; i < texts.length; i++) {
    const length = Buffer.byteLength(texts[i] as string);
    spans[i] = { offset, length };
    offset += length + 1;
  }
  return { line: `${RESOURCES_PREFIX}${texts.join(',')}${SUFFIX}`, spans };
}

/**
 * Splits a resources line into the JSON texts of its versions without parsing them (a scan over strings and
 * nesting), with each one's byte span relative to the line.
 *
 * @param text - a journal line starting with {@link RESOURCES_PREFIX}
 * @returns the versions' texts and spans
 * @throws Error when the line is not a well-formed resources line
 */
export function splitResourcesLine(text: string): { texts: string[]; spans: VersionSpan[] } {
  if (!text.startsWith(RESOURCES_PREFIX) || !text.endsWith(SUFFIX)) throw new Error('malformed resources entry');
  const end = text.length - SUFFIX.length;
  const ascii = Buffer.byteLength(text) === text.length;
  const texts: string[] = [];
  const spans: VersionSpan[] = [];
  let i = RESOURCES_PREFIX.length;
  let bytes = PREFIX_BYTES;
  while (i < end) {
    if (text.charCodeAt(i) !== 0x7b /* { */) throw new Error('malformed resources entry');
    const start = i;
    let depth = 0;
    let inString = false;
    for (; i < end; i++) {
      const c = text.charCodeAt(i);
      if (inString) {
        if (c === 0x5c /* \ */) i++;
        else if (c === 0x22 /* " */) inString = false;
      } else if (c === 0x22) inString = true;
      else if (c === 0x7b || c === 0x5b /* [ */) depth++;
      else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
        depth--;
        if (depth === 0) break;
      }
    }
    if (depth !== 0 || i >= end) throw new Error('malformed resources entry');
    const doc = text.slice(start, i + 1);
    const length = ascii ? doc.length : Buffer.byteLength(doc);
    texts.push(doc);
    spans.push({ offset: bytes, length });
    bytes += length;
    i++;
    if (i < end) {
      if (text.charCodeAt(i) !== 0x2c /* , */) throw new Error('malformed resources entry');
      i++;
      bytes++;
      if (i === end) throw new Error('malformed resources entry');
    }
  }
  return { texts, spans };
}
