/** The structured JSON logger (pino). Secrets never reach it: request bodies are not logged. */
import pino, { type Logger } from 'pino';
import type { LogLevel } from './config/schema';

export type { Logger };

/**
 * Creates the process logger.
 * @param level - the minimum level to emit
 * @param destination - where to write (stdout by default; tests pass a stream to inspect lines)
 * @returns a pino logger
 */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'fhir-server' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // A second line of defence: no code path logs these, and a slip would still print `[redacted]`.
      redact: {
        paths: [
          '*.secret',
          '*.password',
          '*.authorization',
          '*.cookie',
          '*.client_secret',
          '*.client_assertion',
          '*.code_verifier',
          '*.access_token',
          '*.refresh_token',
          '*.id_token',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
