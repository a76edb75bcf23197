/**
 * Exit codes of `fhir-smart` (docs/cli.md "Exit codes"): 0 success, 1 the server refused (an HTTP 4xx/5xx, an OAuth
 * error), 2 usage (bad arguments, no profile, unreadable input), 3 network (the server could not be reached).
 */
export const EXIT_OK = 0;
export const EXIT_HTTP = 1;
export const EXIT_USAGE = 2;
export const EXIT_NETWORK = 3;

/** An error that ends the command with a message on stderr and an exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Bad arguments or input: exit 2. */
export function usageError(message: string): CliError {
  return new CliError(message, EXIT_USAGE);
}
