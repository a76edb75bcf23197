/**
 * FHIR date, dateTime and instant values as inclusive UTC ranges at their precision
 * (`2020` → 2020-01-01T00:00:00.000Z .. 2020-12-31T23:59:59.999Z). A dateTime without an offset is taken as UTC.
 * Used both to index values and to read search parameters, so the two always agree.
 */

/** An inclusive instant range (ISO strings with milliseconds, UTC). */
export interface DateRange {
  lo: string;
  hi: string;
}

/** The earliest and latest instants, for open Period ends. */
export const MIN_INSTANT = '0001-01-01T00:00:00.000Z';
export const MAX_INSTANT = '9999-12-31T23:59:59.999Z';

const PATTERN =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Parses a FHIR date/dateTime/instant into its range.
 * @param value - the text
 * @returns the range, or undefined when the text is not a valid date
 */
export function parseDateRange(value: string): DateRange | undefined {
  const m = PATTERN.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  const month = mo === undefined ? undefined : Number(mo);
  const day = d === undefined ? undefined : Number(d);
  if (month !== undefined && (month < 1 || month > 12)) return undefined;
  if (day !== undefined && (day < 1 || day > new Date(Date.UTC(year, month as number, 0)).getUTCDate())) return undefined;
  if (h !== undefined && (Number(h) > 23 || Number(mi) > 59 || (s !== undefined && Number(s) > 59))) return undefined;
  const offsetMinutes = zone && zone !== 'Z' ? (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) : 0;
  if (month === undefined) {
    return { lo: iso(Date.UTC(year, 0, 1)), hi: iso(Date.UTC(year + 1, 0, 1) - 1) };
  }
  if (day === undefined) {
    return { lo: iso(Date.UTC(year, month - 1, 1)), hi: iso(Date.UTC(year, month, 1) - 1) };
  }
  if (h === undefined) {
    return { lo: iso(Date.UTC(year, month - 1, day)), hi: iso(Date.UTC(year, month - 1, day + 1) - 1) };
  }
  const base = Date.UTC(year, month - 1, day, Number(h), Number(mi)) - offsetMinutes * 60_000;
  if (s === undefined) return { lo: iso(base), hi: iso(base + 60_000 - 1) };
  const seconds = base + Number(s) * 1000;
  if (frac === undefined) return { lo: iso(seconds), hi: iso(seconds + 999) };
  const ms = Number(frac.padEnd(3, '0').slice(0, 3));
  return { lo: iso(seconds + ms), hi: iso(seconds + ms) };
}
