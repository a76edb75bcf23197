/**
 * The decision of one FHIR request (or one Bundle entry) as the access layer emits it (DESIGN §5.9): what was
 * asked, by whom, which resources it touched, and how it ended. The access-controlled repository bound to the
 * request notes refusals, the deciding rule and the resources it hands out; {@link recordDecision} emits the event
 * once the interaction has answered or failed. Handlers know nothing of it.
 */
import { auditQuery, type Caller, type DecisionListener, type DecisionOutcome, NO_AUDIT, type TouchedResource } from '../../audit/events';
import type { ResourceDocument } from '../../storage/ports';
import { FhirError } from '../errors';

/** The most resources one event lists; a search page or history beyond it is marked truncated. */
export const MAX_TOUCHED = 50;

/** Where decisions go and who is asking: fixed for one request, shared by its Bundle entries. */
export interface DecisionSink {
  listener: DecisionListener;
  caller: Caller;
}

/** What the repository notes while a request runs. */
export class DecisionNote {
  refusedBy?: DecisionOutcome['refusedBy'];
  rule?: string;
  readonly touched: TouchedResource[] = [];
  truncated = false;

  /**
   * Notes a resource handed out or written.
   * @param doc - the stored document (public view) or a written resource
   */
  touch(doc: Pick<ResourceDocument, 'type' | 'id' | 'index'> & { versionId?: number | string; resource?: Record<string, unknown> }): void {
    if (this.touched.length >= MAX_TOUCHED) {
      this.truncated = true;
      return;
    }
    const entry: TouchedResource = { type: doc.type, id: doc.id };
    if (doc.versionId !== undefined) entry.versionId = String(doc.versionId);
    if (doc.resource) entry.resource = doc.resource;
    if (doc.index) entry.index = doc.index;
    this.touched.push(entry);
  }

  /**
   * Notes several documents.
   * @param docs - documents handed out
   */
  touchAll(docs: readonly ResourceDocument[]): void {
    for (const doc of docs) {
      if (this.touched.length >= MAX_TOUCHED) {
        this.truncated = true;
        return;
      }
      this.touch(doc);
    }
  }

  /**
   * Notes a refusal (the first one counts).
   * @param by - what refused
   */
  refuse(by: NonNullable<DecisionOutcome['refusedBy']>): void {
    this.refusedBy ??= by;
  }
}

/** What one request was, as the event names it. */
export interface DecisionRequest {
  method: string;
  path: readonly string[];
  query: ReadonlyArray<readonly [string, string]>;
  bundleEntry?: boolean;
}

/** What the request was judged as, once the route is known. */
export interface DecisionSubject {
  interaction: string;
  resourceType?: string;
  id?: string;
  /** The search parameters as judged (a `POST _search` form body's included), when they differ from the URL's. */
  query?: ReadonlyArray<readonly [string, string]>;
}

/**
 * The status a failure answers with.
 * @param err - what was thrown
 * @returns its HTTP status (500 for anything unexpected)
 */
function statusOf(err: unknown): number {
  return err instanceof FhirError ? err.status : 500;
}

/**
 * Runs one interaction and emits its decision event, whether it answers or throws.
 * @param sink - the listener and the caller (undefined or NO_AUDIT: nothing is recorded)
 * @param request - the request as received
 * @param run - runs it; receives the note to bind to the request's repository and the subject setter
 * @returns what `run` returns
 */
export async function recordDecision<T extends { status: number }>(
  sink: DecisionSink | undefined,
  request: DecisionRequest,
  run: (note: DecisionNote | undefined, subject: (s: DecisionSubject) => void) => Promise<T>,
): Promise<T> {
  if (!sink || sink.listener === NO_AUDIT) return run(undefined, () => undefined);
  const note = new DecisionNote();
  let subject: DecisionSubject = { interaction: 'unknown' };
  const emit = (status: number, err?: unknown): void => {
    const refused = note.refusedBy !== undefined;
    const outcome: DecisionOutcome = { status, decision: refused ? 'refused' : 'permitted' };
    if (note.refusedBy) outcome.refusedBy = note.refusedBy;
    if (note.rule) outcome.rule = note.rule;
    if (err instanceof FhirError) outcome.detail = err.message.slice(0, 500);
    sink.listener.record({
      kind: 'rest',
      at: Date.now(),
      caller: sink.caller,
      interaction: subject.interaction,
      method: request.method,
      path: request.path.join('/'),
      ...(subject.resourceType !== undefined ? { resourceType: subject.resourceType } : {}),
      ...(subject.id !== undefined ? { id: subject.id } : {}),
      ...(request.bundleEntry ? { bundleEntry: true } : {}),
      query: auditQuery(subject.query ?? request.query),
      touched: note.touched,
      ...(note.truncated ? { truncated: true } : {}),
      outcome,
    });
  };
  let result: T;
  try {
    result = await run(note, (s) => {
      subject = s;
    });
  } catch (err) {
    emit(statusOf(err), err);
    throw err;
  }
  emit(result.status);
  return result;
}
