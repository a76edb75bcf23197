/** Splitting and unescaping of search parameter values, and the errors of the filter layer. */
import { BadRequestError, FhirError } from '../../errors';

/** A parameter the resource type does not have (ignored with a warning, or 400 under `handling=strict`). */
export class UnknownSearchParameterError extends FhirError {
  constructor(readonly parameter: string, diagnostics?: string) {
    super(400, { code: 'not-supported', diagnostics: diagnostics ?? `Unknown search parameter '${parameter}'`, expression: [parameter] });
  }
}

/**
 * Splits a value on unescaped commas (OR) and unescapes `\,` `\$` `\|` `\\`.
 * @param value - the raw value
 * @returns the alternatives
 */
export function splitOr(value: string): string[] {
  return splitOn(value, ',');
}

/**
 * Splits on an unescaped separator, unescaping the parts.
 * @param value - the raw value
 * @param separator - one character
 * @returns the parts
 */
export function splitOn(value: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] as string;
    if (ch === '\\' && i + 1 < value.length) {
      const next = value[i + 1] as string;
      if (next === ',' || next === '$' || next === '|' || next === '\\') {
        current += next === separator ? `\u0000${next}` : `\\${next}`;
        i++;
        continue;
      }
    }
    if (ch === separator) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.map((p) => p.replace(/\u0000(.)/g, '$1'));
}

/**
 * Removes the remaining escapes of a single value.
 * @param value - a part produced by splitOn
 * @returns the literal text
 */
export function unescapeValue(value: string): string {
  return value.replace(/\\([,$|\\])/g, '$1');
}

/**
 * A 400 naming the parameter.
 * @param parameter - the parameter as written
 * @param message - what is wrong
 * @returns the error to throw
 */
export function invalidValue(parameter: string, message: string): BadRequestError {
  return new BadRequestError(`Search parameter ${parameter}: ${message}`, [parameter]);
}

/** Comparison prefixes (https://hl7.org/fhir/R4/search.html#prefix). */
export type Prefix = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le' | 'sa' | 'eb' | 'ap';

/**
 * Splits a prefix off an ordered value.
 * @param value - e.g. `ge2020-01-01`
 * @returns the prefix (default eq) and the rest
 */
export function splitPrefix(value: string): { prefix: Prefix; rest: string } {
  const match = /^(eq|ne|gt|lt|ge|le|sa|eb|ap)(?=[\d-])/.exec(value);
  return match ? { prefix: match[1] as Prefix, rest: value.slice(2) } : { prefix: 'eq', rest: value };
}
