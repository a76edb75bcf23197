/**
 * One search parameter occurrence → a MongoDB filter fragment over the stored document (docs/search-index.md).
 * Only the SearchParameter code (from the definitions, never from the URL as such) becomes part of a key; user
 * values only ever appear as values or as escaped RegExp text, so no operator can be injected.
 */
import type { SearchParameter } from 'fhir/r4';
import type { Filter } from '../../../storage/ports';
import { getSearchParameter, getSearchParameters, isResourceType } from '../../definitions';
import { RELATIVE_REFERENCE } from '../../reference-patterns';
import { escapeRegExp, fold } from '../text';
import { dateCondition, instantCondition, numberCondition, splitPrefix } from './ordered';
import { invalidValue, splitOn, splitOr, UnknownSearchParameterError, unescapeValue } from './values';

/** Options that depend on the project. */
export interface FilterOptions {
  /** The project's FHIR base URL; absolute references under it are treated as relative. */
  baseUrl: string;
}

const MODIFIERS: Record<string, readonly string[]> = {
  string: ['exact', 'contains', 'missing'],
  token: ['not', 'text', 'missing'],
  reference: ['missing'],
  date: ['missing'],
  number: ['missing'],
  quantity: ['missing'],
  uri: ['below', 'above', 'missing'],
  composite: ['missing'],
};

function field(code: string): string {
  return `index.${code}`;
}

function elemMatch(code: string, condition: Filter, negate = false): Filter {
  const match = { $elemMatch: condition };
  return { [field(code)]: negate ? { $not: match } : match };
}

function anyOf(filters: Filter[]): Filter {
  return filters.length === 1 ? (filters[0] as Filter) : { $or: filters };
}

function stringCondition(code: string, modifier: string | undefined, value: string): Filter {
  const text = unescapeValue(value);
  if (modifier === 'exact') return elemMatch(code, { e: text });
  const folded = escapeRegExp(fold(text));
  return elemMatch(code, { n: new RegExp(modifier === 'contains' ? folded : `^${folded}`) });
}

function tokenCondition(name: string, code: string, modifier: string | undefined, value: string): Filter {
  if (modifier === 'text') return elemMatch(code, { t: new RegExp(`^${escapeRegExp(fold(unescapeValue(value)))}`) });
  const parts = splitOn(value, '|');
  if (parts.length > 2) throw invalidValue(name, `'${value}' has more than one '|'`);
  let condition: Filter;
  if (parts.length === 1) condition = { c: parts[0] };
  else if (parts[0] === '') condition = { c: parts[1], s: { $exists: false } };
  else if (parts[1] === '') condition = { s: parts[0] };
  else condition = { s: parts[0], c: parts[1] };
  return elemMatch(code, condition, modifier === 'not');
}

function referenceCondition(name: string, param: SearchParameter, modifier: string | undefined, value: string, options: FilterOptions): Filter {
  let text = unescapeValue(value);
  if (text.startsWith(`${options.baseUrl}/`)) text = text.slice(options.baseUrl.length + 1);
  text = text.replace(/\/_history\/[^/]+$/, '');
  if (/^[a-z][a-z0-9+.-]*:/i.test(text)) return elemMatch(param.code, { u: text });
  const typed = RELATIVE_REFERENCE.exec(text);
  if (typed) {
    if (modifier && modifier !== typed[1]) throw invalidValue(name, `'${value}' does not match the type modifier :${modifier}`);
    return elemMatch(param.code, { r: text });
  }
  if (!/^[A-Za-z0-9\-.]{1,64}$/.test(text)) throw invalidValue(name, `'${value}' is not an id, Type/id or absolute URL`);
  const targets = param.target ?? [];
  const type = modifier ?? (targets.length === 1 ? targets[0] : undefined);
  return elemMatch(param.code, type ? { t: type, i: text } : { i: text });
}

function quantityCondition(name: string, code: string, value: string): Filter {
  const parts = splitOn(value, '|');
  if (parts.length !== 1 && parts.length !== 3) throw invalidValue(name, `'${value}' must be number or number|system|code`);
  const { prefix, rest } = splitPrefix(parts[0] ?? '');
  const { negate, condition } = numberCondition(name, prefix, rest);
  const match: Filter = { v: condition };
  const system = parts[1];
  const unit = parts[2];
  if (system) match.s = system;
  if (unit) {
    if (system) match.c = unit;
    else match.$or = [{ c: unit }, { u: unit }];
  }
  return elemMatch(code, match, negate);
}

function uriCondition(code: string, modifier: string | undefined, value: string): Filter {
  const text = unescapeValue(value);
  if (modifier === 'below') return elemMatch(code, { e: new RegExp(`^${escapeRegExp(text)}`) });
  if (modifier === 'above') {
    const prefixes: string[] = [];
    for (let i = text.indexOf('/') + 1; i > 0 && i <= text.length; i = text.indexOf('/', i) + 1) prefixes.push(text.slice(0, i - 1));
    prefixes.push(text);
    return elemMatch(code, { e: { $in: prefixes.filter((p) => p !== '') } });
  }
  return elemMatch(code, { e: text });
}

function componentCondition(name: string, type: string, definition: string, value: string): Filter {
  const param = getSearchParameters(type).find((p) => p.url === definition);
  if (!param) throw new UnknownSearchParameterError(name);
  const fragment = valueFilter(name, type, param, undefined, value, { baseUrl: '' });
  // valueFilter returns { 'index.<code>': { $elemMatch: cond } }: lift cond under the component's key.
  const inner = (fragment[field(param.code)] as { $elemMatch?: Filter } | undefined)?.$elemMatch;
  if (!inner) throw invalidValue(name, `'${value}' cannot be used in a composite`);
  return Object.fromEntries(Object.entries(inner).map(([k, v]) => [k.startsWith('$') ? k : `${param.code}.${k}`, v]));
}

function compositeCondition(name: string, type: string, param: SearchParameter, value: string): Filter {
  const parts = splitOn(value, '$');
  const components = param.component ?? [];
  if (parts.length !== components.length) throw invalidValue(name, `'${value}' needs ${components.length} '$'-separated values`);
  const condition: Filter = {};
  for (const [i, component] of components.entries()) Object.assign(condition, componentCondition(name, type, component.definition, parts[i] as string));
  return elemMatch(param.code, condition);
}

function valueFilter(name: string, type: string, param: SearchParameter, modifier: string | undefined, value: string, options: FilterOptions): Filter {
  switch (param.type) {
    case 'string':
      return stringCondition(param.code, modifier, value);
    case 'token':
      return tokenCondition(name, param.code, modifier, value);
    case 'reference':
      return referenceCondition(name, param, modifier, value, options);
    case 'date': {
      const { negate, condition } = dateCondition(name, value);
      return elemMatch(param.code, condition, negate);
    }
    case 'number': {
      const { prefix, rest } = splitPrefix(value);
      const { negate, condition } = numberCondition(name, prefix, rest);
      return elemMatch(param.code, { v: condition }, negate);
    }
    case 'quantity':
      return quantityCondition(name, param.code, value);
    case 'uri':
      return uriCondition(param.code, modifier, value);
    case 'composite':
      return compositeCondition(name, type, param, value);
    default:
      throw new UnknownSearchParameterError(name, `Search parameter '${name}' of type ${param.type} is not supported`);
  }
}

function specialFilter(name: string, code: string, modifier: string | undefined, values: string[]): Filter | undefined {
  if (code === '_id') {
    if (modifier) throw invalidValue(name, `modifier :${modifier} is not supported on _id`);
    return { id: { $in: values.map(unescapeValue) } };
  }
  if (code === '_lastUpdated') {
    if (modifier) throw invalidValue(name, `modifier :${modifier} is not supported on _lastUpdated`);
    return anyOf(
      values.map((v) => {
        const { negate, condition } = instantCondition(name, v);
        return { lastUpdated: negate ? { $not: condition } : condition };
      }),
    );
  }
  return undefined;
}

/**
 * Parses one parameter occurrence into a filter fragment.
 * @param type - the resource type searched
 * @param name - the parameter name with an optional modifier (`name:exact`, `subject:Patient`)
 * @param value - the URL-decoded value (commas separate alternatives)
 * @param options - project options
 * @returns the filter fragment, or undefined when the value is empty (the parameter is then ignored)
 */
export function parameterFilter(type: string, name: string, value: string, options: FilterOptions): Filter | undefined {
  const colon = name.indexOf(':');
  const code = colon < 0 ? name : name.slice(0, colon);
  const modifier = colon < 0 ? undefined : name.slice(colon + 1);
  if (value === '') return undefined;
  const values = splitOr(value);
  const special = specialFilter(name, code, modifier, values);
  if (special) return special;
  const param = getSearchParameter(type, code);
  if (!param || !param.expression) throw new UnknownSearchParameterError(name);
  if (modifier === 'missing') {
    if (value !== 'true' && value !== 'false') throw invalidValue(name, "':missing' takes true or false");
    return { [field(param.code)]: { $exists: value === 'false' } };
  }
  if (modifier !== undefined) {
    const typeModifier = param.type === 'reference' && isResourceType(modifier);
    if (!typeModifier && !(MODIFIERS[param.type] ?? []).includes(modifier)) {
      throw invalidValue(name, `modifier :${modifier} is not supported on ${param.type} parameters`);
    }
  }
  const filters = values.filter((v) => v !== '').map((v) => valueFilter(name, type, param, modifier, v, options));
  if (filters.length === 0) return undefined;
  // `:not` and `ne` select resources where no value matches; several alternatives must all fail to match.
  if (modifier === 'not') return filters.length === 1 ? filters[0] : { $and: filters };
  return anyOf(filters);
}

/**
 * Filter matching resources whose reference parameter points at any of the given `Type/id` references.
 * @param code - the reference parameter code
 * @param references - `Type/id` values
 * @returns the filter fragment
 */
export function referenceFilter(code: string, references: string[]): Filter {
  return { [field(code)]: { $elemMatch: { r: { $in: references } } } };
}

/**
 * The sort field for `_sort` on a parameter.
 * @param type - the resource type
 * @param code - the parameter code (`_id`, `_lastUpdated` or an indexed parameter)
 * @returns the stored field to sort on
 */
export function sortField(type: string, code: string): string {
  if (code === '_id') return 'id';
  if (code === '_lastUpdated') return 'lastUpdated';
  const param = getSearchParameter(type, code);
  if (!param || !param.expression || param.type === 'composite') throw new UnknownSearchParameterError(`_sort=${code}`, `Cannot sort by '${code}'`);
  return `sort.${param.code}`;
}
