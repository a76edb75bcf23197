/**
 * JSON Patch (RFC 6902) for `PATCH` with `application/json-patch+json`, applied with fast-json-patch.
 * A malformed patch document is a 400; a failing `test` operation or a path that does not exist is a 422
 * (the patch is well-formed but cannot be applied to this version).
 */
import { applyPatch, deepClone, JsonPatchError, type Operation, validate } from 'fast-json-patch';
import { BadRequestError, UnprocessableEntityError } from '../errors';

const MAX_OPERATIONS = 1000;

/**
 * Applies a patch to a copy of the document.
 * @param document - the current resource (not modified)
 * @param operations - the patch document from the request body
 * @returns the patched copy
 */
export function applyJsonPatch(document: Record<string, unknown>, operations: unknown): Record<string, unknown> {
  if (!Array.isArray(operations)) throw new BadRequestError('A JSON Patch document must be an array of operations');
  if (operations.length > MAX_OPERATIONS) throw new BadRequestError(`A JSON Patch may hold at most ${MAX_OPERATIONS} operations`);
  const structural = validate(operations as Operation[]);
  if (structural) throw new BadRequestError(`Invalid JSON Patch at operation ${String(structural.index)}: ${describe(structural)}`);
  const target = deepClone(document) as Record<string, unknown>;
  try {
    return applyPatch(target, operations as Operation[], true, true).newDocument as Record<string, unknown>;
  } catch (err) {
    if (err instanceof JsonPatchError) {
      const status = err.name === 'TEST_OPERATION_FAILED' ? 'Test operation failed' : describe(err);
      throw new UnprocessableEntityError(`JSON Patch operation ${String(err.index)} cannot be applied: ${status}`);
    }
    // fast-json-patch refuses __proto__/constructor/prototype paths with a TypeError.
    throw new BadRequestError(`JSON Patch refused: ${err instanceof Error ? err.message : 'invalid operation'}`);
  }
}

function describe(err: JsonPatchError): string {
  // fast-json-patch messages end with a dump of the operation and document; keep the first line only.
  return err.message.split('\n')[0] ?? err.name;
}
