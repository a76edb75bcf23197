/**
 * Exact postings for `$elemMatch` equalities, the shape of every token, reference and uri search
 * (`index.code: { $elemMatch: { s: 'http://loinc.org', c: '1234-5' } }`, docs/search-index.md).
 *
 * The inverted index of the collection records each scalar by path, so it cannot tell whether `s` and `c` sit in
 * the same array element, and every candidate must be tested. An element index is defined by
 * (project, type, array path, sorted field names) and maps the values of those fields in one element to the ids
 * of the live documents holding such an element. It is defined on demand, the first time a search needs it
 * (one pass over the partition), and then maintained on every write; after a restart it is rebuilt the same way.
 *
 * Exactness: a live document (`deleted === false`) is in the posting of (v1, v2) exactly when one plain-object
 * element of the array at the path has field values equal to v1 and v2 (a field holding an array of scalars
 * counts each scalar), which is what mingo and MongoDB answer for `{ path: { $elemMatch: { f1: v1, f2: v2 } } }`.
 * Data the definition does not model (a non-object element, nested arrays, an array above the path, a
 * non-boolean `deleted`, a NaN) makes the definition "irregular" while such a document is stored, and an irregular
 * definition is not used at all.
 */
import type { Filter, ResourceDocument } from '../ports';
import { TimeSlice } from '../../time-slice';
import { IdSet } from './id-order';
import { isIndexScalar, scalarKey } from './query-plan';
import type { IndexScalar } from './query-plan';

const SEP = '\u0000';
/** Most definitions kept; searches needing more fall back to the inverted index. */
const MAX_DEFINITIONS = 256;
/** Most fields in one definition (subsets of an `$elemMatch` body still narrow). */
const MAX_FIELDS = 2;

/** One `$elemMatch` equality of a filter. */
export interface ElementEquality {
  /** The array path (`index.code`). */
  path: string;
  /** Sorted field names and their values. */
  fields: Array<[string, IndexScalar]>;
  /** True when the `$elemMatch` body is exactly these equalities (nothing else to test). */
  complete: boolean;
}

/** The parts of a filter the element indexes can answer. */
export interface ElementCoverage {
  project?: string;
  types?: string[];
  /** The filter requires `deleted: false`. */
  live: boolean;
  elements: ElementEquality[];
  /** Conditions beyond project, type, `deleted: false` and complete element equalities. */
  residual: boolean;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function isEqualityValue(value: unknown): value is IndexScalar {
  return isIndexScalar(value) && !Number.isNaN(value);
}

/** The scalar a field condition requires by equality (`v` or `{ $eq: v }`), or undefined. */
function equalityOf(condition: unknown): IndexScalar | undefined {
  if (isEqualityValue(condition)) return condition;
  if (isPlainObject(condition) && Object.keys(condition).length === 1 && isEqualityValue(condition.$eq)) return condition.$eq;
  return undefined;
}

function isArrayPath(path: string): boolean {
  const parts = path.split('.');
  return parts.length === 2 && parts[0] === 'index' && /^[A-Za-z_][\w-]*$/.test(parts[1] ?? '');
}

function isFieldName(name: string): boolean {
  return /^[A-Za-z_][\w-]*$/.test(name);
}

function elementEquality(path: string, condition: unknown): ElementEquality | undefined {
  if (!isArrayPath(path) || !isPlainObject(condition) || Object.keys(condition).length !== 1) return undefined;
  const body = condition.$elemMatch;
  if (!isPlainObject(body)) return undefined;
  const fields: Array<[string, IndexScalar]> = [];
  let complete = true;
  for (const [name, fieldCondition] of Object.entries(body)) {
    const value = isFieldName(name) ? equalityOf(fieldCondition) : undefined;
    if (value === undefined) complete = false;
    else fields.push([name, value]);
  }
  if (fields.length === 0) return undefined;
  fields.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (fields.length > MAX_FIELDS) {
    fields.length = MAX_FIELDS;
    complete = false;
  }
  return { path, fields, complete };
}

/**
 * Whether a top-level condition is an `$elemMatch` made only of equalities that the element indexes answer exactly.
 *
 * @param key - the condition's path
 * @param value - its condition
 */
export function isCompleteElementEquality(key: string, value: unknown): boolean {
  return elementEquality(key, value)?.complete === true;
}

function addConjuncts(filter: Filter, out: Array<[string, unknown]>): void {
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' && Array.isArray(value) && value.length > 0 && value.every(isPlainObject)) {
      for (const member of value) addConjuncts(member, out);
    } else out.push([key, value]);
  }
}

/**
 * Reads which parts of a filter the element indexes cover. Only top-level conjuncts count (`$and` flattened).
 *
 * @param filter - a MongoDB query document
 * @returns the coverage
 */
export function elementCoverage(filter: Filter): ElementCoverage {
  const conjuncts: Array<[string, unknown]> = [];
  addConjuncts(filter, conjuncts);
  const coverage: ElementCoverage = { live: false, elements: [], residual: false };
  const projects = new Set<unknown>();
  let typeConditions = 0;
  for (const [key, value] of conjuncts) {
    if (key === 'project' && typeof equalityOf(value) === 'string') projects.add(equalityOf(value));
    else if (key === 'deleted' && equalityOf(value) === false) coverage.live = true;
    else if (key === 'type' && typeof equalityOf(value) === 'string' && typeConditions++ === 0) coverage.types = [equalityOf(value) as string];
    else if (key === 'type' && isPlainObject(value) && Object.keys(value).length === 1 && Array.isArray(value.$in) && value.$in.every((t) => typeof t === 'string') && typeConditions++ === 0) {
      coverage.types = [...new Set(value.$in as string[])];
    } else {
      const element = elementEquality(key, value);
      if (element) coverage.elements.push(element);
      if (!element || !element.complete) coverage.residual = true;
    }
  }
  if (projects.size === 1) coverage.project = [...projects][0] as string;
  else if (projects.size > 1) coverage.residual = true;
  if (typeConditions > 1) coverage.residual = true;
  return coverage;
}

/** One element index: (project, type, path, fields) → value key → live document ids. */
export class ElementIndex {
  readonly postings = new Map<string, IdSet>();
  /** Stored documents the index does not model; while any is stored, the index is not used. */
  irregular = 0;
  /** Set while the index is being filled from the stored documents. */
  filling: Promise<void> | undefined;
  /** While filling: the ids of the partition not reached yet. */
  unvisited: Set<string> | undefined;

  constructor(
    readonly path: string,
    readonly fields: readonly string[],
  ) {}

  /** Value keys of one document, or undefined when the document is irregular for this index. */
  keysOf(doc: ResourceDocument): string[] | undefined {
    if (typeof doc.deleted !== 'boolean' || typeof doc.project !== 'string' || typeof doc.type !== 'string') return undefined;
    if (doc.deleted) return [];
    const [head, name] = this.path.split('.') as [string, string];
    const container = (doc as unknown as Record<string, unknown>)[head];
    if (container === undefined || container === null) return [];
    if (!isPlainObject(container)) return undefined;
    const array = container[name];
    if (!Array.isArray(array)) return [];
    const keys = new Set<string>();
    for (const element of array) {
      if (!isPlainObject(element)) return undefined;
      let combos: string[] = [''];
      for (const field of this.fields) {
        const value = element[field];
        const values = Array.isArray(value) ? value : [value];
        const next: string[] = [];
        for (const v of values) {
          if (v === undefined || v === null) continue;
          if (!isEqualityValue(v)) {
            // An object never equals a scalar (no key); arrays in arrays and NaN are left to the inverted index.
            if (Array.isArray(value) || Number.isNaN(v) || Array.isArray(v)) return undefined;
            continue;
          }
          for (const prefix of combos) next.push(`${prefix}${SEP}${scalarKey(v)}`);
        }
        combos = next;
      }
      for (const key of combos) keys.add(key);
    }
    return [...keys];
  }

  /** Adds a document under its value keys. */
  add(id: string, keys: readonly string[]): void {
    for (const key of keys) {
      let set = this.postings.get(key);
      if (!set) {
        set = new IdSet(key);
        this.postings.set(key, set);
      }
      set.add(id);
    }
  }

  /** Removes a document from the postings of its value keys. */
  remove(id: string, keys: readonly string[]): void {
    for (const key of keys) {
      const set = this.postings.get(key);
      if (!set) continue;
      set.delete(id);
      if (set.size === 0) this.postings.delete(key);
    }
  }

  /** The value key of an equality on this index's fields. */
  static valueKey(fields: ReadonlyArray<[string, IndexScalar]>): string {
    return fields.map(([, v]) => `${SEP}${scalarKey(v)}`).join('');
  }
}

/** The element indexes of one collection. */
export class ElementIndexes {
  /** `${project}\0${type}` → definition key (`path\0f1,f2`) → index */
  private readonly byPartition = new Map<string, Map<string, ElementIndex>>();
  private count = 0;

  /**
   * Adds a document to every element index of its partition.
   *
   * @param doc - the stored document
   */
  add(doc: ResourceDocument): void {
    const indexes = this.byPartition.get(`${doc.project}${SEP}${doc.type}`);
    if (!indexes) return;
    for (const index of indexes.values()) this.addTo(index, doc);
  }

  private addTo(index: ElementIndex, doc: ResourceDocument): void {
    const keys = index.keysOf(doc);
    if (keys === undefined) index.irregular++;
    else index.add(doc._id, keys);
  }

  /**
   * Removes a document that {@link ElementIndexes.add} (or the filling of a definition) added: its entries are
   * computed again from it, so documents keep no record of them.
   *
   * @param doc - the stored document being replaced
   */
  remove(doc: ResourceDocument): void {
    const indexes = this.byPartition.get(`${doc.project}${SEP}${doc.type}`);
    if (!indexes) return;
    for (const index of indexes.values()) {
      // Not reached yet by the filling of a new definition: it was never added.
      if (index.unvisited?.delete(doc._id)) continue;
      const keys = index.keysOf(doc);
      if (keys === undefined) index.irregular--;
      else index.remove(doc._id, keys);
    }
  }

  /** Whether a partition has element indexes (a replaced document must then be loaded to remove it). */
  has(project: string, type: string): boolean {
    return this.byPartition.has(`${project}${SEP}${type}`);
  }

  /**
   * The index for an equality in a partition, defined (and filled from the partition's documents) on first use.
   *
   * @param project - the project
   * @param type - the resource type
   * @param element - the equality
   * @param partition - the partition's documents with their recorded entries, to fill a new index
   * @returns the index, or undefined when it cannot be used (irregular data, too many definitions)
   */
  async indexFor(
    project: string,
    type: string,
    element: ElementEquality,
    partition: () => Array<[string, unknown]>,
    load: (id: string, entry: unknown) => ResourceDocument | undefined,
  ): Promise<ElementIndex | undefined> {
    const partitionKey = `${project}${SEP}${type}`;
    const fields = element.fields.map(([name]) => name);
    const definition = `${element.path}${SEP}${fields.join(',')}`;
    let indexes = this.byPartition.get(partitionKey);
    let index = indexes?.get(definition);
    if (!index) {
      if (this.count >= MAX_DEFINITIONS) return undefined;
      const defined = new ElementIndex(element.path, fields);
      index = defined;
      if (!indexes) {
        indexes = new Map();
        this.byPartition.set(partitionKey, indexes);
      }
      indexes.set(definition, defined);
      this.count++;
      // Filled a time slice at a time. Documents written meanwhile are added by add() (the index is defined); a
      // document replaced before it was reached leaves `unvisited` and is skipped.
      const members = partition();
      defined.unvisited = new Set(members.map(([id]) => id));
      defined.filling = (async () => {
        const slice = new TimeSlice();
        let n = 0;
        for (const [id, entry] of members) {
          if (++n % 64 === 0) await slice.breathe();
          if (!defined.unvisited?.has(id)) continue;
          const doc = load(id, entry);
          defined.unvisited.delete(id);
          if (doc) this.addTo(defined, doc);
        }
      })().then(
        () => {
          defined.filling = undefined;
          defined.unvisited = undefined;
        },
        (err: unknown) => {
          // A document could not be read: the index is incomplete, so it is dropped (defined again on next use).
          if (indexes?.get(definition) === defined) {
            indexes.delete(definition);
            this.count--;
          }
          defined.filling = undefined;
          defined.unvisited = undefined;
          throw err;
        },
      );
    }
    if (index.filling) await index.filling;
    return index.irregular === 0 ? index : undefined;
  }

  /** Every definition, for a snapshot: the index and what defines it. */
  definitions(): Array<{ project: string; type: string; path: string; fields: string[]; index: ElementIndex }> {
    const out: Array<{ project: string; type: string; path: string; fields: string[]; index: ElementIndex }> = [];
    for (const [partitionKey, indexes] of this.byPartition) {
      const [project, type] = partitionKey.split(SEP) as [string, string];
      for (const index of indexes.values()) {
        if (!index.filling) out.push({ project, type, path: index.path, fields: [...index.fields], index });
      }
    }
    return out;
  }

  /**
   * Defines an index without filling it (a snapshot is being restored: its documents bring their entries).
   *
   * @returns the index, or undefined when no more definitions are allowed
   */
  define(project: string, type: string, path: string, fields: string[]): ElementIndex | undefined {
    const partitionKey = `${project}${SEP}${type}`;
    const definition = `${path}${SEP}${fields.join(',')}`;
    let indexes = this.byPartition.get(partitionKey);
    const existing = indexes?.get(definition);
    if (existing) return existing;
    if (this.count >= MAX_DEFINITIONS) return undefined;
    const index = new ElementIndex(path, fields);
    if (!indexes) {
      indexes = new Map();
      this.byPartition.set(partitionKey, indexes);
    }
    indexes.set(definition, index);
    this.count++;
    return index;
  }

  /**
   * Restores an index's postings from a snapshot.
   *
   * @param index - from {@link define}
   * @param irregular - its count of irregular documents
   * @param postings - value key → ids
   */
  static restore(index: ElementIndex, irregular: number, postings: ReadonlyArray<[string, string[]]>): void {
    index.irregular = irregular;
    for (const [key, ids] of postings) {
      const set = new IdSet(key);
      for (const id of ids) set.add(id);
      if (set.size > 0) index.postings.set(key, set);
    }
  }

  /**
   * The live ids holding an element with these values.
   *
   * @param index - an index from {@link ElementIndexes.indexFor}
   * @param element - the equality (its fields are the index's)
   */
  static posting(index: ElementIndex, element: ElementEquality): IdSet | undefined {
    return index.postings.get(ElementIndex.valueKey(element.fields));
  }
}
