/**
 * Normalization of FHIRPath results into index entries, per SearchParameter type (docs/search-index.md).
 * Each function takes one value as FHIRPath returns it (a primitive or a complex datatype as plain JSON) and
 * returns zero or more entries.
 */
import { isResourceType } from '../../definitions';
import { REFERENCE_TARGET } from '../../reference-patterns';
import { MAX_INSTANT, MIN_INSTANT, parseDateRange } from '../dates';
import { fold } from '../text';

type Json = Record<string, unknown>;
/** One index entry. */
export type Entry = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : []);

function stringEntry(value: string): Entry {
  return { n: fold(value), e: value };
}

/** string: plain strings, HumanName and Address parts. */
export function stringEntries(value: unknown): Entry[] {
  if (typeof value === 'string') return value ? [stringEntry(value)] : [];
  if (!isObject(value)) return [];
  const parts = [
    ...strings(value.family),
    ...strings(value.given),
    ...strings(value.prefix),
    ...strings(value.suffix),
    ...strings(value.text),
    ...strings(value.line),
    ...strings(value.city),
    ...strings(value.district),
    ...strings(value.state),
    ...strings(value.postalCode),
    ...strings(value.country),
  ];
  return parts.filter((p) => p !== '').map(stringEntry);
}

function compact(entry: Entry): Entry {
  for (const key of Object.keys(entry)) if (entry[key] === undefined) delete entry[key];
  return entry;
}

/** token: Coding, CodeableConcept, Identifier, ContactPoint, code/string/uri/id, boolean. */
export function tokenEntries(value: unknown): Entry[] {
  if (typeof value === 'boolean') return [{ c: String(value) }];
  if (typeof value === 'string') return value ? [{ c: value }] : [];
  if (!isObject(value)) return [];
  if (Array.isArray(value.coding) || typeof value.text === 'string') {
    const codings = (Array.isArray(value.coding) ? value.coding : []).filter(isObject);
    const entries = codings.flatMap((coding) => tokenEntries(coding));
    const text = str(value.text);
    if (text) entries.push({ t: fold(text) });
    return entries;
  }
  if ('code' in value || 'display' in value) {
    const display = str(value.display);
    return str(value.code) || str(value.system) ? [compact({ s: str(value.system), c: str(value.code), t: display && fold(display) })] : [];
  }
  if ('value' in value || 'system' in value) {
    // Identifier (system + value, type text) or ContactPoint (system code + value).
    const typeText = isObject(value.type) ? str(value.type.text) : undefined;
    return str(value.value) ? [compact({ s: str(value.system), c: str(value.value), t: typeText && fold(typeText) })] : [];
  }
  return [];
}


function referenceText(text: string): Entry[] {
  const absolute = /^[a-z][a-z0-9+.-]*:/i.test(text);
  const match = REFERENCE_TARGET.exec(text);
  const target = match && isResourceType(match[1] as string) ? { r: `${match[1]}/${match[2]}`, t: match[1], i: match[2] } : undefined;
  if (!absolute) return target ? [target] : [];
  const entries: Entry[] = [{ u: text, ...(target ?? {}) }];
  const bar = text.indexOf('|');
  if (bar > 0) entries.push({ u: text.slice(0, bar) });
  return entries;
}

/** reference: Reference (relative, absolute, versioned) and canonical strings. */
export function referenceEntries(value: unknown): Entry[] {
  if (typeof value === 'string') return value ? referenceText(value) : [];
  if (!isObject(value)) return [];
  const reference = str(value.reference);
  return reference ? referenceText(reference) : [];
}

/** date: date/dateTime/instant strings, Period, Timing.event. */
export function dateEntries(value: unknown): Entry[] {
  if (typeof value === 'string') {
    const range = parseDateRange(value);
    return range ? [{ lo: range.lo, hi: range.hi }] : [];
  }
  if (!isObject(value)) return [];
  if ('start' in value || 'end' in value) {
    const start = str(value.start) ? parseDateRange(value.start as string) : undefined;
    const end = str(value.end) ? parseDateRange(value.end as string) : undefined;
    if (!start && !end) return [];
    return [{ lo: start?.lo ?? MIN_INSTANT, hi: end?.hi ?? MAX_INSTANT }];
  }
  if (Array.isArray(value.event)) return value.event.flatMap((e) => dateEntries(e));
  return [];
}

/** number: decimals and integers. */
export function numberEntries(value: unknown): Entry[] {
  return typeof value === 'number' && Number.isFinite(value) ? [{ v: value }] : [];
}

/** quantity: Quantity (and Age, Duration, ...), Money, Range (low and high). */
export function quantityEntries(value: unknown): Entry[] {
  if (typeof value === 'number') return [{ v: value }];
  if (!isObject(value)) return [];
  if ('low' in value || 'high' in value) return [...quantityEntries(value.low), ...quantityEntries(value.high)];
  if (typeof value.value !== 'number') return [];
  if (typeof value.currency === 'string') return [{ v: value.value, c: value.currency }];
  return [compact({ v: value.value, s: str(value.system), c: str(value.code), u: str(value.unit) })];
}

/** uri: the exact text. */
export function uriEntries(value: unknown): Entry[] {
  return typeof value === 'string' && value ? [{ e: value }] : [];
}

/** Entry builders per SearchParameter type. */
export const ENTRY_BUILDERS: Record<string, (value: unknown) => Entry[]> = {
  string: stringEntries,
  token: tokenEntries,
  reference: referenceEntries,
  date: dateEntries,
  number: numberEntries,
  quantity: quantityEntries,
  uri: uriEntries,
};
