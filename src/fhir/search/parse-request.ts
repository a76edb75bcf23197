/**
 * Splits a search query into result controls and criteria (https://hl7.org/fhir/R4/search.html#return):
 * `_count`, `_sort`, `_total`, `_summary`, `_elements`, `_include`, `_revinclude` (with `:iterate`), the paging
 * cursor `_cursor`, and `_type` for system searches. Everything else is a criterion, compiled later; names that
 * are not search parameters end up as warnings there. Bad control values are 400s naming the parameter.
 */
import type { Config } from '../../config/schema';
import { BadRequestError } from '../errors';

/** `_total` modes. */
export type TotalMode = 'none' | 'estimate' | 'accurate';

/** `_summary` modes. */
export type SummaryMode = 'true' | 'false' | 'text' | 'data' | 'count';

/** One `_sort` key. */
export interface SortKey {
  code: string;
  direction: 'asc' | 'desc';
}

/** One `_include` or `_revinclude` value. */
export interface IncludeRequest {
  /** The parameter as written (`_include:iterate`), for messages. */
  parameter: string;
  /** The resource type holding the reference; undefined for `*` (any type). */
  sourceType?: string;
  /** The reference parameter code, or `*` for all reference parameters. */
  code: string;
  /** Only references to this type. */
  target?: string;
  /** `:iterate` (or the R3 name `:recurse`): also applies to included resources. */
  iterate: boolean;
}

/** The result controls of a search. */
export interface SearchControls {
  count: number;
  sort: SortKey[];
  total: TotalMode;
  summary?: SummaryMode;
  elements?: string[];
  include: IncludeRequest[];
  revinclude: IncludeRequest[];
  /** The opaque paging cursor of a `next`/`previous`/`self` link. */
  cursor?: string;
  /** `_type` (system search): the resource types to search. */
  types?: string[];
}

/** A search query split into controls and criteria. */
export interface ParsedSearch {
  controls: SearchControls;
  /** Name/value pairs that are not controls, in order. */
  criteria: Array<[string, string]>;
}

/** Parameters that only shape the response, never select resources; ignored by conditional matches. */
export const CONTROL_PARAMETERS: ReadonlySet<string> = new Set([
  '_count',
  '_sort',
  '_total',
  '_summary',
  '_elements',
  '_include',
  '_revinclude',
  '_cursor',
  '_format',
  '_pretty',
]);

const SUMMARY_MODES: readonly string[] = ['true', 'false', 'text', 'data', 'count'];
const TOTAL_MODES: readonly string[] = ['none', 'estimate', 'accurate'];
const RESOURCE_TYPE = /^[A-Z][A-Za-z]{0,63}$/;
const PARAM_CODE = /^[a-z_][A-Za-z0-9\-_]{0,63}$/;
const ELEMENT = /^(?:[A-Z][A-Za-z]{0,63}\.)?[a-z][A-Za-z0-9]{0,63}$/;

/**
 * Whether a parameter name is a result control (possibly with a modifier, `_include:iterate`).
 * @param name - the parameter name
 * @returns true for controls
 */
export function isControlParameter(name: string): boolean {
  return CONTROL_PARAMETERS.has(name.split(':')[0] ?? name);
}

function invalid(parameter: string, message: string): BadRequestError {
  return new BadRequestError(`Search parameter ${parameter}: ${message}`, [parameter]);
}

function once(seen: Set<string>, name: string): void {
  if (seen.has(name)) throw invalid(name, 'must appear at most once');
  seen.add(name);
}

function parseCount(value: string, config: Config): number {
  if (!/^\d{1,9}$/.test(value)) throw invalid('_count', `'${value}' is not a non-negative integer`);
  return Math.min(Number(value), config.pageSizeMax);
}

function parseSort(value: string): SortKey[] {
  return value.split(',').map((part) => {
    const key = part.trim();
    const desc = key.startsWith('-');
    const code = desc ? key.slice(1) : key;
    if (code === '') throw invalid('_sort', `'${value}' has an empty sort key`);
    return { code, direction: desc ? 'desc' : 'asc' };
  });
}

function parseElements(value: string): string[] {
  return value.split(',').map((part) => {
    const element = part.trim();
    if (!ELEMENT.test(element)) throw invalid('_elements', `'${element}' is not an element name`);
    return element;
  });
}

function parseInclude(parameter: string, value: string, iterate: boolean, reverse: boolean): IncludeRequest {
  if (value === '*') {
    return { parameter, code: '*', iterate };
  }
  const parts = value.split(':');
  const [sourceType, code, target] = parts;
  if (parts.length < 2 || parts.length > 3 || !sourceType || !code) {
    throw invalid(parameter, `'${value}' must be Type:parameter, Type:parameter:TargetType or *`);
  }
  if (!RESOURCE_TYPE.test(sourceType)) throw invalid(parameter, `'${sourceType}' is not a resource type`);
  if (code !== '*' && !PARAM_CODE.test(code)) throw invalid(parameter, `'${code}' is not a search parameter code`);
  if (target !== undefined && !RESOURCE_TYPE.test(target)) throw invalid(parameter, `'${target}' is not a resource type`);
  if (reverse && code === '*' && target !== undefined) throw invalid(parameter, `'${value}': a target type needs a named parameter`);
  return { parameter, sourceType, code, target, iterate };
}

function includeModifier(name: string, modifier: string | undefined): boolean {
  if (modifier === undefined) return false;
  if (modifier === 'iterate' || modifier === 'recurse') return true;
  throw invalid(name, `modifier :${modifier} is not supported (use :iterate)`);
}

/**
 * Splits a query into controls and criteria and checks the control values.
 * @param query - the name/value pairs of the request (URL plus form body)
 * @param config - for the `_count` default and ceiling
 * @param options - `system`: a system-level search, where `_type` is a control
 * @returns the controls and the remaining criteria
 * @throws BadRequestError for a bad control value or a control given twice
 */
export function parseSearchRequest(query: Array<[string, string]>, config: Config, options: { system?: boolean } = {}): ParsedSearch {
  const controls: SearchControls = { count: config.pageSizeDefault, sort: [], total: 'accurate', include: [], revinclude: [] };
  const criteria: Array<[string, string]> = [];
  const seen = new Set<string>();
  for (const [name, value] of query) {
    const colon = name.indexOf(':');
    const base = colon < 0 ? name : name.slice(0, colon);
    const modifier = colon < 0 ? undefined : name.slice(colon + 1);
    if (base === '_type' && options.system) {
      once(seen, base);
      if (modifier !== undefined) throw invalid(name, 'takes no modifier');
      controls.types = value.split(',').map((t) => t.trim()).filter((t) => t !== '');
      continue;
    }
    if (!CONTROL_PARAMETERS.has(base)) {
      criteria.push([name, value]);
      continue;
    }
    if (modifier !== undefined && base !== '_include' && base !== '_revinclude') throw invalid(name, 'takes no modifier');
    if (value === '') continue;
    switch (base) {
      case '_count':
        once(seen, base);
        controls.count = parseCount(value, config);
        break;
      case '_sort':
        once(seen, base);
        controls.sort = parseSort(value);
        break;
      case '_total':
        once(seen, base);
        if (!TOTAL_MODES.includes(value)) throw invalid(base, `'${value}' is not one of ${TOTAL_MODES.join(', ')}`);
        controls.total = value as TotalMode;
        break;
      case '_summary':
        once(seen, base);
        if (!SUMMARY_MODES.includes(value)) throw invalid(base, `'${value}' is not one of ${SUMMARY_MODES.join(', ')}`);
        controls.summary = value as SummaryMode;
        break;
      case '_elements':
        once(seen, base);
        controls.elements = parseElements(value);
        break;
      case '_cursor':
        once(seen, base);
        controls.cursor = value;
        break;
      case '_include':
      case '_revinclude': {
        const iterate = includeModifier(name, modifier);
        const list = base === '_include' ? controls.include : controls.revinclude;
        for (const part of value.split(',')) list.push(parseInclude(name, part.trim(), iterate, base === '_revinclude'));
        break;
      }
      default:
        // _format and _pretty: the response format is negotiated elsewhere; pretty-printing is not offered.
        break;
    }
  }
  if (controls.elements && controls.summary !== undefined && controls.summary !== 'false') {
    throw invalid('_elements', 'cannot be combined with _summary');
  }
  return { controls, criteria };
}

/**
 * Whether the request asked for strict handling of unknown parameters (`Prefer: handling=strict`).
 * @param prefer - the Prefer header
 * @returns true for strict
 */
export function isStrictHandling(prefer: string | undefined): boolean {
  return /(?:^|[,;\s])handling\s*=\s*"?strict"?/i.test(prefer ?? '');
}
