/** Helpers shared by the forms: field errors from OperationOutcome issues, immutable updates. */
import type { Issue, Resource } from '../fhir';
import { fieldPath } from '../json-paths';

/** Field path (`rule[1].condition.expression`) → messages. */
export type FieldErrors = Record<string, string[]>;

/**
 * Groups issues by the form field their expression names.
 * @param issues - the server's issues
 * @returns field path → messages ('' for issues without an expression)
 */
export function fieldErrors(issues: Issue[]): FieldErrors {
  const out: FieldErrors = {};
  for (const issue of issues) {
    const message = issue.diagnostics ?? issue.details?.text ?? issue.code ?? 'invalid';
    const paths = issue.expression?.length ? issue.expression.map(fieldPath) : [''];
    for (const path of paths) (out[path] ??= []).push(message);
  }
  return out;
}

/**
 * The messages of a field and of everything under it (`redirectUri` also gets `redirectUri[1]`).
 * @param errors - from {@link fieldErrors}
 * @param path - the field path
 * @param exact - only the field itself
 * @returns the joined message, or undefined
 */
export function errorAt(errors: FieldErrors, path: string, exact = false): string | undefined {
  const found = Object.entries(errors)
    .filter(([key]) => key === path || (!exact && (key.startsWith(`${path}[`) || key.startsWith(`${path}.`))))
    .flatMap(([, messages]) => messages);
  return found.length ? found.join('; ') : undefined;
}

/** Props every form gets. */
export interface FormProps<T extends Resource = Resource> {
  value: T;
  onChange: (value: T) => void;
  errors: FieldErrors;
  /** True when the resource is being created (not yet stored). */
  creating: boolean;
}

/**
 * A copy of the resource with one element set (removed when the value is empty).
 * @param resource - the resource
 * @param key - the element
 * @param value - its value
 * @returns the copy
 */
export function withField<T extends Resource>(resource: T, key: string, value: unknown): T {
  const copy = { ...resource } as Record<string, unknown>;
  if (value === undefined || value === '' || (Array.isArray(value) && value.length === 0)) delete copy[key];
  else copy[key] = value;
  return copy as T;
}
