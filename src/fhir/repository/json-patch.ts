/**
 * JSON Patch (RFC 6902) for `PATCH` with `application/json-patch+json` (docs/fhir-rest.md#patch). Every
 * operation is checked against the document as it stands before it changes anything (strict pointers,
 * json-pointer.ts), on a copy, so a refused patch leaves nothing behind. The answers:
 * - 400 `invalid`: the patch document is malformed, whatever it would be applied to (not an array, too many
 *   operations, an operation that is not an object, an unknown `op`, `path`/`from` missing or not a JSON Pointer,
 *   `value` missing, a move into its own child, a path through `__proto__`/`constructor`/`prototype`);
 * - 422 `processing`: the patch is well-formed but cannot be applied to this version (a `test` fails, a path or
 *   `from` that does not exist, an array index out of range or not an index); 422 `too-costly` when `copy`
 *   operations would duplicate more than MAX_COPIED_CHARS of JSON;
 * - 400 `invalid`: the result, which FHIR processes as an update (R4 http.html#patch), is not a version of this
 *   resource: not a JSON object, or another `resourceType` or `id`. Its content is then validated like any write
 *   (400, one issue per problem).
 */
import { BadRequestError, FhirError, UnprocessableEntityError } from '../errors';
import { existingIndex, insertionIndex, isProperPrefix, type Json, parsePointer, type PointerSyntaxError, slotOf, valueAt } from './json-pointer';

/** Most operations in one patch document. */
export const MAX_OPERATIONS = 1000;
/** Most JSON text (characters) that the `copy` operations of one patch may duplicate. */
export const MAX_COPIED_CHARS = 1024 * 1024;

const OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

/** A checked operation: pointers parsed. */
interface PatchOperation {
  index: number;
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string[];
  from: string[];
  value: Json;
}

/**
 * Applies a patch to a copy of the document.
 * @param document - the current resource (not modified)
 * @param operations - the patch document from the request body
 * @returns the patched copy, a JSON object with the document's resourceType and id
 * @throws BadRequestError (400) for a malformed patch or a result that is not this resource
 * @throws UnprocessableEntityError (422) for a patch that cannot be applied to this document
 */
export function applyJsonPatch(document: Record<string, unknown>, operations: unknown): Record<string, unknown> {
  const patch = parsePatch(operations);
  let target: Json | undefined = structuredClone(document) as Json;
  const copied = { chars: 0 };
  for (const operation of patch) target = applyOperation(target, operation, copied);
  return checkResult(document, target);
}

function parsePatch(operations: unknown): PatchOperation[] {
  if (!Array.isArray(operations)) throw new BadRequestError('A JSON Patch document must be an array of operations');
  if (operations.length > MAX_OPERATIONS) throw new BadRequestError(`A JSON Patch may hold at most ${MAX_OPERATIONS} operations`);
  return operations.map((operation: unknown, index) => parseOperation(operation, index));
}

function parseOperation(operation: unknown, index: number): PatchOperation {
  const malformed = (why: string) => new BadRequestError(`Invalid JSON Patch at operation ${index}: ${why}`);
  if (operation === null || typeof operation !== 'object' || Array.isArray(operation)) throw malformed('an operation must be a JSON object');
  const fields = operation as Record<string, unknown>;
  const op = fields.op;
  if (typeof op !== 'string' || !OPS.has(op)) throw malformed('`op` must be one of add, remove, replace, move, copy, test');
  const pointer = (member: 'path' | 'from'): string[] => {
    const text = fields[member];
    if (typeof text !== 'string') throw malformed(`\`${member}\` must be a JSON Pointer string`);
    const tokens = parsePointer(text);
    if (!Array.isArray(tokens)) throw malformed(`\`${member}\` ${POINTER_ERRORS[tokens]}`);
    return tokens;
  };
  const path = pointer('path');
  const from = op === 'move' || op === 'copy' ? pointer('from') : [];
  const needsValue = op === 'add' || op === 'replace' || op === 'test';
  if (needsValue && !Object.hasOwn(fields, 'value')) throw malformed(`\`value\` is required for ${op}`);
  if (op === 'move' && isProperPrefix(from, path)) throw malformed('a value cannot be moved into one of its own children');
  return { index, op: op as PatchOperation['op'], path, from, value: needsValue ? (fields.value as Json) : null };
}

const POINTER_ERRORS: Record<PointerSyntaxError, string> = {
  'not-a-pointer': 'must be empty or start with "/"',
  'bad-escape': 'has a "~" not followed by 0 or 1',
  'banned-token': 'may not name __proto__, constructor or prototype',
};

function applyOperation(document: Json | undefined, operation: PatchOperation, copied: { chars: number }): Json | undefined {
  switch (operation.op) {
    case 'add':
      return add(document, operation.path, operation.value, operation);
    case 'remove':
      return remove(document, operation.path, operation).document;
    case 'replace':
      return replace(document, operation.path, operation.value, operation);
    case 'move': {
      const removed = remove(document, operation.from, operation, 'from');
      return add(removed.document, operation.path, removed.value, operation);
    }
    case 'copy': {
      const value = valueAt(document, operation.from);
      if (value === undefined) throw notApplicable(operation, '`from` does not exist');
      const text = JSON.stringify(value);
      copied.chars += text.length;
      if (copied.chars > MAX_COPIED_CHARS) {
        throw new FhirError(422, { code: 'too-costly', diagnostics: `JSON Patch copy operations may duplicate at most ${MAX_COPIED_CHARS} characters of JSON` });
      }
      return add(document, operation.path, JSON.parse(text) as Json, operation);
    }
    case 'test': {
      const value = valueAt(document, operation.path);
      if (value === undefined || !jsonEqual(value, operation.value)) throw notApplicable(operation, 'test failed');
      return document;
    }
  }
}

/** Inserts (arrays) or sets (objects) a value; `""` replaces the whole document. */
function add(document: Json | undefined, path: string[], value: Json, operation: PatchOperation): Json {
  if (path.length === 0) return value;
  const slot = document === undefined ? undefined : slotOf(document, path);
  if (!slot) throw notApplicable(operation, 'the parent of `path` does not exist');
  if (Array.isArray(slot.parent)) {
    const at = insertionIndex(slot.parent, slot.token);
    if (at === undefined) throw notApplicable(operation, '`path` names no position in the array');
    slot.parent.splice(at, 0, value);
  } else {
    slot.parent[slot.token] = value;
  }
  return document as Json;
}

/** Removes an existing value; `""` removes the whole document (leaving no resource). */
function remove(document: Json | undefined, path: string[], operation: PatchOperation, member: 'path' | 'from' = 'path'): { document: Json | undefined; value: Json } {
  const missing = () => notApplicable(operation, `\`${member}\` does not exist`);
  if (document === undefined) throw missing();
  if (path.length === 0) return { document: undefined, value: document };
  const slot = slotOf(document, path);
  if (!slot) throw missing();
  if (Array.isArray(slot.parent)) {
    const at = existingIndex(slot.parent, slot.token);
    if (at === undefined) throw missing();
    return { document, value: slot.parent.splice(at, 1)[0] as Json };
  }
  if (!Object.hasOwn(slot.parent, slot.token)) throw missing();
  const value = slot.parent[slot.token] as Json;
  delete slot.parent[slot.token];
  return { document, value };
}

/** Replaces an existing value in place; `""` replaces the whole document. */
function replace(document: Json | undefined, path: string[], value: Json, operation: PatchOperation): Json {
  const missing = () => notApplicable(operation, '`path` does not exist');
  if (document === undefined) throw missing();
  if (path.length === 0) return value;
  const slot = slotOf(document, path);
  if (!slot) throw missing();
  if (Array.isArray(slot.parent)) {
    const at = existingIndex(slot.parent, slot.token);
    if (at === undefined) throw missing();
    slot.parent[at] = value;
  } else {
    if (!Object.hasOwn(slot.parent, slot.token)) throw missing();
    slot.parent[slot.token] = value;
  }
  return document;
}

function notApplicable(operation: PatchOperation, why: string): UnprocessableEntityError {
  return new UnprocessableEntityError(`JSON Patch operation ${operation.index} (${operation.op}) cannot be applied: ${why}`);
}

/** RFC 6902 §4.6 equality: same JSON type and value, objects compared member by member regardless of order. */
function jsonEqual(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => jsonEqual(item, b[i] as Json));
  }
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && jsonEqual(a[key] as Json, b[key] as Json));
}

/** The result must still be this resource: a JSON object of the same type with the same id. */
function checkResult(original: Record<string, unknown>, result: Json | undefined): Record<string, unknown> {
  const type = typeof original.resourceType === 'string' ? original.resourceType : 'Resource';
  if (result === undefined || result === null || typeof result !== 'object' || Array.isArray(result)) {
    throw new BadRequestError('The patched result is not a resource (a JSON object)', [type]);
  }
  if (result.resourceType !== original.resourceType) throw new BadRequestError('A patch may not change resourceType', [`${type}.resourceType`]);
  if (result.id !== original.id) throw new BadRequestError('A patch may not change the id', [`${type}.id`]);
  return result;
}
