/** Writing results: JSON pretty-printed on a terminal and compact when piped; messages go to stderr. */

/** Whether stdout is a terminal. */
export function stdoutIsTty(): boolean {
  return process.stdout.isTTY === true;
}

/** Writes a JSON value to stdout: indented on a terminal, one line otherwise. */
export function printJson(value: unknown): void {
  process.stdout.write(`${stdoutIsTty() ? JSON.stringify(value, null, 2) : JSON.stringify(value)}\n`);
}

/** Writes a line to stdout. */
export function println(text = ''): void {
  process.stdout.write(`${text}\n`);
}

/** Writes a line to stderr. */
export function note(text: string): void {
  process.stderr.write(`${text}\n`);
}
