/**
 * The logging surface storage needs; a pino logger satisfies it.
 */

/** Structured logger used by storage adapters (startup, replay and compaction reports, warnings). */
export interface StorageLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  /** Failures an operator must act on (a write the disk refused); `warn` is used when absent. */
  error?(obj: object, msg?: string): void;
}

/** A logger that drops everything (the default when none is given). */
export const SILENT_LOGGER: StorageLogger = {
  info: () => undefined,
  warn: () => undefined,
};
