/**
 * The budget of one FHIR request (docs/fhir-rest.md "Limits"): how many bytes its response may hold
 * (`MAX_RESPONSE_BYTES`) and how long it may run (`REQUEST_TIMEOUT_MS`). Both are checked while the response is
 * built, before memory grows: every resource a search, a history or a Bundle puts into the response is serialized
 * once, as it is added, into a {@link SerializedJson} whose bytes are counted; the object it came from can then be
 * collected, and the final response is assembled from the serialized pieces without serializing them again.
 * Exceeding either answers 422 `too-costly` (in a batch, for the entry that exceeded it and every later one).
 * One budget serves the whole HTTP request, every Bundle entry included.
 */
import { randomBytes } from 'node:crypto';
import { TimeSlice } from '../time-slice';
import { FhirError } from './errors';

/** Work that would exceed the request's budget. */
export class TooCostlyError extends FhirError {
  constructor(diagnostics: string) {
    super(422, { code: 'too-costly', diagnostics });
  }
}

/** A JSON text made once, inserted as is when the response is written. */
export class SerializedJson {
  /** @param text - the JSON text of one value */
  constructor(readonly text: string) {}
}

/** Unguessable per process: a string in a resource can never be taken for a placeholder. */
const PLACEHOLDER = `\u0000fhir-json-${randomBytes(9).toString('hex')}-`;
/** A placeholder as JSON writes it: `"\u0000fhir-json-…-<n>"`, quotes included. */
const PLACEHOLDER_TEXT = new RegExp(`${JSON.stringify(PLACEHOLDER).slice(0, -1).replace(/\\/g, '\\\\')}(\\d+)"`, 'g');

/**
 * Serializes a value that may hold {@link SerializedJson} pieces (anywhere, at any depth).
 * @param value - the value
 * @returns the JSON text and how many of its characters came from pieces already serialized
 */
export function stringifyWithPieces(value: unknown): { text: string; inserted: number } {
  const { parts, inserted } = jsonParts(value);
  return { text: parts.length === 1 ? (parts[0] as string) : parts.join(''), inserted };
}

/**
 * Serializes a value that may hold {@link SerializedJson} pieces into consecutive parts of its JSON text (the
 * pieces themselves among them), to be written one after the other without joining them first.
 * @param value - the value
 * @returns the parts, and how many of their characters came from pieces already serialized
 */
export function jsonParts(value: unknown): { parts: string[]; inserted: number } {
  const pieces: string[] = [];
  const text = JSON.stringify(value, (_key, item: unknown) => {
    if (!(item instanceof SerializedJson)) return item;
    pieces.push(item.text);
    return `${PLACEHOLDER}${pieces.length - 1}`;
  });
  if (pieces.length === 0) return { parts: [text], inserted: 0 };
  const parts: string[] = [];
  let inserted = 0;
  let at = 0;
  for (const match of text.matchAll(PLACEHOLDER_TEXT)) {
    const piece = pieces[Number(match[1])] as string;
    parts.push(text.slice(at, match.index), piece);
    inserted += piece.length;
    at = (match.index ?? 0) + match[0].length;
  }
  parts.push(text.slice(at));
  return { parts, inserted };
}

/** The budget of one request; see the module comment. */
export class RequestBudget {
  private used = 0;
  private readonly deadline: number;
  private readonly slice = new TimeSlice();

  /**
   * @param maxBytes - the most the response may hold (characters of JSON, counted as bytes)
   * @param timeoutMs - how long the request may run, from now
   */
  constructor(
    readonly maxBytes: number,
    private readonly timeoutMs: number,
  ) {
    this.deadline = Date.now() + timeoutMs;
  }

  /**
   * Serializes a value into the response, counting the characters not counted before (pieces inside it were).
   * @param value - a resource, or an entry's body holding pieces
   * @returns the serialized value
   * @throws TooCostlyError when the response would exceed the budget, or the request ran out of time
   */
  serialize(value: unknown): SerializedJson {
    this.checkTime();
    const { text, inserted } = stringifyWithPieces(value);
    this.used += text.length - inserted;
    if (this.used > this.maxBytes) {
      throw new TooCostlyError(
        `The response would exceed ${this.maxBytes} bytes (MAX_RESPONSE_BYTES); ask for less: a smaller _count, fewer _include, fewer Bundle entries`,
      );
    }
    return new SerializedJson(text);
  }

  /**
   * Throws when nothing more can be added: the response is full, or the request has run out of time (a Bundle
   * checks before each entry, so an entry that cannot fit costs no work).
   * @throws TooCostlyError
   */
  checkRoom(): void {
    this.checkTime();
    if (this.used >= this.maxBytes) throw new TooCostlyError(`The response is already at ${this.maxBytes} bytes (MAX_RESPONSE_BYTES); send fewer Bundle entries`);
  }

  /**
   * Lets other requests in when this one has run for a time slice without letting go (time-slice.ts); loops that
   * build a response or judge many resources call it once per item.
   * @returns a promise to await, or undefined when the slice goes on
   */
  breathe(): Promise<void> | undefined {
    return this.slice.breathe();
  }

  /**
   * Throws when the request has run out of time.
   * @throws TooCostlyError past the deadline
   */
  checkTime(): void {
    if (Date.now() > this.deadline) {
      throw new TooCostlyError(`The request ran longer than ${this.timeoutMs} ms (REQUEST_TIMEOUT_MS) and was stopped; ask for less`);
    }
  }
}
