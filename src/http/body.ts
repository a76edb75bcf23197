/**
 * JSON request bodies: parsed by Express's JSON parser (strict: objects and arrays only) up to the configured
 * size, then checked for nesting depth so that no later recursive step can overflow the stack.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { BadRequestError } from '../fhir/errors';

/** Deepest nesting accepted in a request body (R4 resources stay far below this). */
export const MAX_BODY_DEPTH = 64;

/** Media types whose bodies are parsed as JSON. */
export const JSON_BODY_TYPES = ['application/json', 'application/fhir+json', 'application/json-patch+json', 'application/json+fhir'];

/**
 * The JSON body parser plus the depth check.
 * @param limitBytes - the largest accepted body
 * @returns the middlewares
 */
export function jsonBody(limitBytes: number) {
  return [
    express.json({ limit: limitBytes, strict: true, type: JSON_BODY_TYPES }),
    (req: Request, _res: Response, next: NextFunction): void => {
      if (req.body !== undefined && exceedsDepth(req.body, MAX_BODY_DEPTH)) {
        throw new BadRequestError(`The request body is nested deeper than ${MAX_BODY_DEPTH} levels`, undefined, 'structure');
      }
      next();
    },
  ];
}

/**
 * Iterative depth check (no recursion, so hostile input cannot exhaust the stack).
 * @param value - parsed JSON
 * @param maxDepth - the limit
 * @returns true when some value is nested deeper than maxDepth
 */
export function exceedsDepth(value: unknown, maxDepth: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (typeof current !== 'object' || current === null) continue;
    if (depth >= maxDepth) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}
