/** OperationOutcome builders. */
import type { OperationOutcome } from 'fhir/r4';
import type { Issue } from './errors';

/**
 * Builds an OperationOutcome from issues.
 * @param issues - the problems (or informational messages) to report
 * @returns the OperationOutcome resource
 */
export function operationOutcome(issues: Issue[]): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: issues.map((i) => ({
      severity: i.severity ?? 'error',
      code: i.code,
      diagnostics: i.diagnostics,
      ...(i.expression && i.expression.length > 0 ? { expression: i.expression } : {}),
    })),
  };
}

/**
 * An informational OperationOutcome (e.g. for `Prefer: return=OperationOutcome`).
 * @param diagnostics - the message
 * @returns the OperationOutcome resource
 */
export function informationOutcome(diagnostics: string): OperationOutcome {
  return operationOutcome([{ severity: 'information', code: 'informational', diagnostics }]);
}
