/**
 * The resource write feed of the Mongo adapter: a change stream on `resources` filtered to the types asked for,
 * projected down to the project and type of each write (the resource itself never travels). Resource writes are
 * inserts and replacements (deletions are replacements by a deletion marker), which carry the full document.
 * The driver resumes by itself after transient errors; the errors left are mapped to the port's:
 * - a standalone server (40573), a deployment without change streams (115 CommandNotSupported) or a user without
 *   the `changeStream` privilege (13 Unauthorized) → WriteFeedUnavailableError;
 * - a resume token no longer in the oplog (286 ChangeStreamHistoryLost, 280 ChangeStreamFatalError) →
 *   WriteFeedHistoryLostError.
 */
import type { ChangeStream, ChangeStreamDocument, Collection, Document } from 'mongodb';
import type { ResourceDocument, ResourceWriteEvent, ResourceWriteFeed, ResourceWriteStream } from '../ports';
import { WriteFeedHistoryLostError, WriteFeedUnavailableError } from '../ports';

const UNAVAILABLE = new Set([40573, 115, 13]);
const HISTORY_LOST = new Set([286, 280]);

/**
 * The aggregation pipeline of the change stream.
 * @param types - resource types of interest
 * @returns the pipeline
 */
export function writeFeedPipeline(types: readonly string[]): Document[] {
  return [
    { $match: { operationType: { $in: ['insert', 'replace'] }, 'fullDocument.type': { $in: [...types] } } },
    { $project: { operationType: 1, 'fullDocument.project': 1, 'fullDocument.type': 1 } },
  ];
}

/**
 * The port's error for a change stream error.
 * @param err - what the driver threw
 * @returns the mapped error, or the error itself
 */
export function mapChangeStreamError(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'number') return err;
  const message = err instanceof Error ? err.message : String(err);
  if (UNAVAILABLE.has(code)) return new WriteFeedUnavailableError(`change streams unavailable: ${message}`, { cause: err });
  if (HISTORY_LOST.has(code)) return new WriteFeedHistoryLostError(`change stream cannot resume: ${message}`, { cause: err });
  return err;
}

/**
 * The event of one change, when it is a resource write.
 * @param change - a change stream document (projected by {@link writeFeedPipeline})
 * @returns the event, or undefined for anything else
 */
export function toWriteEvent(change: ChangeStreamDocument<ResourceDocument>): ResourceWriteEvent | undefined {
  if (change.operationType !== 'insert' && change.operationType !== 'replace') return undefined;
  const { project, type } = change.fullDocument ?? {};
  if (typeof project !== 'string' || typeof type !== 'string') return undefined;
  return { project, type, resumeToken: change._id };
}

class ChangeStreamWrites implements ResourceWriteStream {
  constructor(private readonly stream: ChangeStream<ResourceDocument>) {}

  async *[Symbol.asyncIterator](): AsyncIterator<ResourceWriteEvent> {
    try {
      for await (const change of this.stream) {
        const event = toWriteEvent(change);
        if (event) yield event;
      }
    } catch (err) {
      throw mapChangeStreamError(err);
    }
  }

  close(): Promise<void> {
    return this.stream.close();
  }
}

/** The Mongo write feed over the resources collection. */
export class MongoWriteFeed implements ResourceWriteFeed {
  /** @param resources - the current-version collection */
  constructor(private readonly resources: Collection<ResourceDocument>) {}

  /** {@inheritDoc ResourceWriteFeed.open} */
  open(types: readonly string[], resumeAfter?: unknown): ResourceWriteStream {
    const options = resumeAfter === undefined ? {} : { resumeAfter };
    return new ChangeStreamWrites(this.resources.watch<ResourceDocument>(writeFeedPipeline(types), options));
  }
}
