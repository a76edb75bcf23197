/**
 * Reads OAuth parameters from a query string or a url-encoded form. Each parameter must appear at most once
 * (RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once"); a repeated one is
 * reported, never silently resolved to its first or last value. Empty values count as absent (RFC 6749 §3.1).
 */

/** Longest accepted parameter value. */
export const MAX_PARAMETER_LENGTH = 4096;

/** Parameters as read from one request. */
export interface OAuthParams {
  /** Single-valued parameters (empty ones omitted). */
  values: Map<string, string>;
  /** Names given more than once. */
  duplicates: Set<string>;
  /** Names whose value exceeds {@link MAX_PARAMETER_LENGTH}. */
  oversized: Set<string>;
}

/**
 * Collects parameters from a parsed query or form body (Express's simple parser: string or string[] values).
 * @param source - `req.query` or `req.body`
 * @param limits - longer limits for named parameters (a signed request object)
 * @returns the parameters
 */
export function readParams(source: unknown, limits: Readonly<Record<string, number>> = {}): OAuthParams {
  const params: OAuthParams = { values: new Map(), duplicates: new Set(), oversized: new Set() };
  if (typeof source !== 'object' || source === null) return params;
  for (const [name, raw] of Object.entries(source as Record<string, unknown>)) {
    const list = (Array.isArray(raw) ? raw : [raw]).filter((v): v is string => typeof v === 'string' && v !== '');
    if (Array.isArray(raw) && raw.length > 1) params.duplicates.add(name);
    const value = list[0];
    if (value === undefined) continue;
    if (value.length > (limits[name] ?? MAX_PARAMETER_LENGTH)) {
      params.oversized.add(name);
      continue;
    }
    params.values.set(name, value);
  }
  return params;
}

/**
 * A single parameter, or undefined when absent, repeated or oversized.
 * @param params - the parameters
 * @param name - the parameter name
 * @returns the value
 */
export function singleParam(params: OAuthParams, name: string): string | undefined {
  return params.duplicates.has(name) || params.oversized.has(name) ? undefined : params.values.get(name);
}
