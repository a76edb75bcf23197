/**
 * Date, number and quantity conditions with prefixes (https://hl7.org/fhir/R4/search.html#prefix).
 * Dates compare the stored inclusive range [lo, hi] with the search value's range S at its precision; numbers
 * use the implied precision of the search value (`100` = [99.5, 100.5)).
 */
import type { Filter } from '../../../storage/ports';
import { parseDateRange } from '../dates';
import { invalidValue, type Prefix, splitPrefix } from './values';

const DAY = 86_400_000;

function widened(lo: string, hi: string): { lo: string; hi: string } {
  const now = Date.now();
  const gap = Math.max(DAY, 0.1 * Math.abs(now - Date.parse(lo)));
  return { lo: new Date(Math.max(Date.parse(lo) - gap, -62135596800000)).toISOString(), hi: new Date(Math.min(Date.parse(hi) + gap, 253402300799999)).toISOString() };
}

/**
 * The $elemMatch condition on a date entry `{lo, hi}`.
 * @param parameter - the parameter name (for errors)
 * @param raw - the value with an optional prefix
 * @returns `{ negate, condition }`: the condition must (or, for `ne`, must not) hold for some entry
 */
export function dateCondition(parameter: string, raw: string): { negate: boolean; condition: Filter } {
  const { prefix, rest } = splitPrefix(raw);
  const s = parseDateRange(rest);
  if (!s) throw invalidValue(parameter, `'${raw}' is not a valid date (use e.g. 2020, 2020-03, 2020-03-01, 2020-03-01T10:00:00Z with an optional prefix eq ne gt lt ge le sa eb ap)`);
  switch (prefix) {
    case 'eq':
      return { negate: false, condition: { lo: { $gte: s.lo }, hi: { $lte: s.hi } } };
    case 'ne':
      return { negate: true, condition: { lo: { $gte: s.lo }, hi: { $lte: s.hi } } };
    case 'gt':
      return { negate: false, condition: { hi: { $gt: s.hi } } };
    case 'lt':
      return { negate: false, condition: { lo: { $lt: s.lo } } };
    case 'ge':
      return { negate: false, condition: { hi: { $gte: s.lo } } };
    case 'le':
      return { negate: false, condition: { lo: { $lte: s.hi } } };
    case 'sa':
      return { negate: false, condition: { lo: { $gt: s.hi } } };
    case 'eb':
      return { negate: false, condition: { hi: { $lt: s.lo } } };
    case 'ap': {
      const w = widened(s.lo, s.hi);
      return { negate: false, condition: { lo: { $lte: w.hi }, hi: { $gte: w.lo } } };
    }
  }
}

/**
 * A condition on a scalar instant field (`lastUpdated`).
 * @param parameter - the parameter name
 * @param raw - the value with an optional prefix
 * @returns a filter on the field value (`{ $gte, $lte }` etc.) and whether to negate it
 */
export function instantCondition(parameter: string, raw: string): { negate: boolean; condition: Filter } {
  const { condition, negate } = dateCondition(parameter, raw);
  // A scalar instant is the range [v, v]: map the range conditions onto the single value.
  const lo = condition.lo as Record<string, string> | undefined;
  const hi = condition.hi as Record<string, string> | undefined;
  return { negate, condition: { ...(lo ?? {}), ...(hi ?? {}) } };
}

/** Parses a decimal search value and its implied precision range. */
export function parseNumber(parameter: string, text: string): { value: number; lo: number; hi: number } {
  if (!/^[+-]?(\d+(\.\d+)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw invalidValue(parameter, `'${text}' is not a number`);
  const value = Number(text);
  const [mantissa = '', exponent] = text.toLowerCase().split('e');
  let half: number;
  if (exponent !== undefined) {
    const digits = mantissa.replace(/^[+-]/, '').replace('.', '').replace(/^0+/, '').length || 1;
    half = 0.5 * 10 ** (Math.floor(Math.log10(Math.abs(value) || 1)) - digits + 1);
  } else {
    const decimals = mantissa.includes('.') ? (mantissa.split('.')[1] ?? '').length : 0;
    half = 0.5 * 10 ** -decimals;
  }
  return { value, lo: value - half, hi: value + half };
}

/**
 * The condition on a numeric field `v` for a prefixed number.
 * @param parameter - the parameter name
 * @param prefix - the prefix
 * @param text - the number text
 * @returns the condition on `v` and whether to negate it
 */
export function numberCondition(parameter: string, prefix: Prefix, text: string): { negate: boolean; condition: Filter } {
  const n = parseNumber(parameter, text);
  switch (prefix) {
    case 'eq':
      return { negate: false, condition: { $gte: n.lo, $lt: n.hi } };
    case 'ne':
      return { negate: true, condition: { $gte: n.lo, $lt: n.hi } };
    case 'gt':
    case 'sa':
      return { negate: false, condition: { $gt: n.value } };
    case 'lt':
    case 'eb':
      return { negate: false, condition: { $lt: n.value } };
    case 'ge':
      return { negate: false, condition: { $gte: n.value } };
    case 'le':
      return { negate: false, condition: { $lte: n.value } };
    case 'ap': {
      const gap = Math.abs(n.value) * 0.1;
      return { negate: false, condition: { $gte: n.value - gap, $lte: n.value + gap } };
    }
  }
}

export { splitPrefix };
