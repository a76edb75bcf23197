/**
 * Reading the journal at start: entry validation, replay, and what happens to a damaged line.
 *
 * - A damaged LAST line (a write cut short by a crash or power loss, so never acknowledged) is not replayed. Its
 *   bytes are appended to `journal.rejected` (mode 0600) with a description of what it was (entry type, and for
 *   resources type/id/versionId as far as they can be read), then cut from the journal, so appends continue on a
 *   clean line boundary. Nothing is rewritten: this works on a full disk too (if even `journal.rejected` cannot
 *   be written, the description is logged and the line is cut all the same, since it was never acknowledged).
 * - A damaged line anywhere else is corruption: opening fails with the line number, byte offset and DATA_DIR,
 *   and the files are left untouched.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ResourceDocument, StoredRecord } from '../ports';
import type { StorageLogger } from '../logger';
import { PRIVATE_FILE_MODE } from '../private-files';
import { fsyncDirectory, readLines, writeAllSync } from './journal-file';
import type { JournalLine } from './journal-file';
import { RESOURCES_PREFIX, splitResourcesLine } from './resources-line';
import type { VersionSpan } from './resources-line';

/** File name of the journal inside the data directory. */
export const JOURNAL_FILE = 'journal.ndjson';
/** File name, inside the data directory, where damaged last lines are kept. */
export const REJECTED_FILE = 'journal.rejected';
/** The journal format this code writes and reads. */
export const FORMAT = 1;

/** One journal line. */
export type JournalEntry =
  | { t: 'header'; format: number; compactedAt: string }
  | { t: 'resources'; docs: Array<Omit<ResourceDocument, '_id'>> }
  | { t: 'record-put'; record: StoredRecord }
  | { t: 'record-delete'; kind: string; keys: string[] }
  | { t: 'resources-expunge'; project: string; type: string; ids: string[] };

/** A journal line other than the last one cannot be read: the data directory is damaged. */
export class JournalCorruptionError extends Error {
  constructor(
    readonly file: string,
    readonly lineNumber: number,
    readonly offset: number,
    cause: unknown,
  ) {
    super(
      `DATA_DIR ${path.dirname(file)}: the journal ${path.basename(file)} is corrupt at line ${lineNumber} ` +
        `(byte ${offset}): ${cause instanceof Error ? cause.message : String(cause)}; refusing to start. ` +
        'Only a damaged last line (an interrupted write) is set aside automatically. Restore the data directory ' +
        'from a backup, or remove the damaged line knowing its change is lost.',
      { cause },
    );
    this.name = 'JournalCorruptionError';
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isVersion(value: unknown): boolean {
  return (
    isRecord(value) &&
    typeof value.project === 'string' &&
    typeof value.type === 'string' &&
    typeof value.id === 'string' &&
    typeof value.versionId === 'number' &&
    typeof value.lastUpdated === 'string' &&
    typeof value.deleted === 'boolean'
  );
}

/**
 * Parses and checks one journal line.
 *
 * @param text - the line without its newline
 * @returns the entry
 * @throws Error when the line is not a well-formed entry
 */
export function parseEntry(text: string): JournalEntry {
  const entry: unknown = JSON.parse(text);
  if (!isRecord(entry)) throw new Error('not a JSON object');
  switch (entry.t) {
    case 'header':
      if (typeof entry.format !== 'number' || entry.format > FORMAT) {
        throw new Error(`unsupported journal format ${String(entry.format)}`);
      }
      return entry as JournalEntry;
    case 'resources':
      if (!Array.isArray(entry.docs) || !entry.docs.every(isVersion)) throw new Error('malformed resources entry');
      return entry as JournalEntry;
    case 'record-put': {
      const r = entry.record;
      if (!isRecord(r) || typeof r.kind !== 'string' || typeof r.key !== 'string' || !isRecord(r.value)) {
        throw new Error('malformed record-put entry');
      }
      return entry as JournalEntry;
    }
    case 'resources-expunge':
      if (typeof entry.project !== 'string' || typeof entry.type !== 'string' || !Array.isArray(entry.ids) || !entry.ids.every((id) => typeof id === 'string')) {
        throw new Error('malformed resources-expunge entry');
      }
      return entry as JournalEntry;
    case 'record-delete':
      if (typeof entry.kind !== 'string' || !Array.isArray(entry.keys)) throw new Error('malformed record-delete entry');
      return entry as JournalEntry;
    default:
      throw new Error(`unknown entry type ${JSON.stringify(entry.t)}`);
  }
}

/**
 * Parses and checks one journal line; a resources line version by version, so that each version's byte position
 * in the file is known.
 *
 * @param line - the line
 * @returns the entry, and for a resources line the absolute span of each version
 * @throws Error when the line is not a well-formed entry
 */
export function parseLine(line: JournalLine): { entry: JournalEntry; spans?: VersionSpan[] } {
  if (!line.text.startsWith(RESOURCES_PREFIX)) return { entry: parseEntry(line.text) };
  const { texts, spans } = splitResourcesLine(line.text);
  const docs = texts.map((text) => JSON.parse(text) as unknown);
  if (!docs.every(isVersion)) throw new Error('malformed resources entry');
  for (const span of spans) span.offset += line.offset;
  return { entry: { t: 'resources', docs: docs as Array<Omit<ResourceDocument, '_id'>> }, spans };
}

/** What a damaged line was, as far as it can be read. */
export interface DamagedLineDescription {
  /** The entry type (`resources`, `record-put`, `record-delete`), when readable. */
  entry?: string;
  /** For `resources`: each version whose type and id could be read. */
  resources?: Array<{ type: string; id: string; versionId?: number }>;
  /** For record entries: the record kind (keys are not reported: some are secrets' digests). */
  kind?: string;
}

const ENTRY_TYPE = /^\s*\{\s*"t"\s*:\s*"([a-z-]{1,40})"/;
// Versions are serialized as {"project":…,"type":…,"id":…,"versionId":…}: type and id are FHIR-constrained.
const VERSION_HEAD = /"type":"([A-Za-z]{1,64})","id":"([A-Za-z0-9\-.]{1,64})"(?:,"versionId":(\d{1,9}))?/g;
const RECORD_KIND = /"kind":"([A-Za-z0-9_.:-]{1,64})"/;

/**
 * Describes a damaged (possibly truncated) journal line: its entry type and the resources or record kind it held.
 *
 * @param text - the line
 */
export function describeDamagedLine(text: string): DamagedLineDescription {
  const description: DamagedLineDescription = {};
  const entry = ENTRY_TYPE.exec(text)?.[1];
  if (entry) description.entry = entry;
  if (entry === 'resources') {
    description.resources = [...text.matchAll(VERSION_HEAD)].map((m) => ({
      type: m[1] as string,
      id: m[2] as string,
      ...(m[3] === undefined ? {} : { versionId: Number(m[3]) }),
    }));
  } else if (entry === 'record-put' || entry === 'record-delete') {
    const kind = RECORD_KIND.exec(text)?.[1];
    if (kind) description.kind = kind;
  }
  return description;
}

/** How a journal replay ended. */
export interface ReplayResult {
  /** Entries replayed (headers included). */
  lines: number;
  /** Bytes of the journal that hold replayed entries (the file is cut to this length when the last line is bad). */
  validBytes: number;
  /** The damaged last line, if any. */
  damaged?: JournalLine;
  /** Lines read before the damaged one (or all of them), blank lines included: the journal's line count. */
  lineCount: number;
}

/**
 * Replays a journal file line by line.
 *
 * @param file - the journal
 * @param replay - applies one entry other than a header (a resources entry with its versions' byte spans)
 * @param from - where to start (a line boundary covered by a snapshot) and the number of lines before it
 * @returns what was replayed, and the damaged last line if any
 * @throws JournalCorruptionError when a line other than the last cannot be read or applied
 */
export function replayFile(
  file: string,
  replay: (entry: Exclude<JournalEntry, { t: 'header' }>, spans?: VersionSpan[]) => void,
  from: { offset: number; lineNumber: number } = { offset: 0, lineNumber: 0 },
): ReplayResult {
  const result = replayLines(file, replay, from);
  return { ...result, lineCount: result.damaged ? result.damaged.lineNumber - 1 : result.lastLine };
}

function replayLines(
  file: string,
  replay: (entry: Exclude<JournalEntry, { t: 'header' }>, spans?: VersionSpan[]) => void,
  from: { offset: number; lineNumber: number },
): Omit<ReplayResult, 'lineCount'> & { lastLine: number } {
  let lines = 0;
  let validBytes = from.offset;
  let lastLine = from.lineNumber;
  let previous: JournalLine | undefined;
  const apply = (line: JournalLine, { entry, spans }: { entry: JournalEntry; spans?: VersionSpan[] }): void => {
    try {
      if (entry.t !== 'header') replay(entry, spans);
    } catch (err) {
      throw new JournalCorruptionError(file, line.lineNumber, line.offset, err);
    }
    lines++;
    validBytes = line.offset + line.bytes + 1;
  };
  for (const line of readLines(file, undefined, from)) {
    lastLine = line.lineNumber;
    if (previous) {
      if (previous.text.trim() === '') {
        validBytes = previous.offset + previous.bytes + 1;
      } else {
        let parsed: ReturnType<typeof parseLine>;
        try {
          parsed = parseLine(previous);
        } catch (err) {
          throw new JournalCorruptionError(file, previous.lineNumber, previous.offset, err);
        }
        apply(previous, parsed);
      }
    }
    previous = line;
  }
  if (!previous) return { lines, validBytes, lastLine };
  if (previous.terminated && previous.text.trim() === '') {
    return { lines, validBytes: previous.offset + previous.bytes + 1, lastLine };
  }
  if (!previous.terminated) return { lines, validBytes, damaged: previous, lastLine };
  let parsed: ReturnType<typeof parseLine>;
  try {
    parsed = parseLine(previous);
  } catch {
    return { lines, validBytes, damaged: previous, lastLine };
  }
  apply(previous, parsed);
  return { lines, validBytes, lastLine };
}

/**
 * Keeps a damaged last line aside in `journal.rejected`, cuts it from the journal and reports it.
 *
 * @param dataDir - the data directory
 * @param file - the journal
 * @param replayed - the replay result holding the damaged line
 * @param logger - receives a warning naming what the line was
 */
export function setAsideDamagedTail(dataDir: string, file: string, replayed: ReplayResult, logger: StorageLogger): void {
  const line = replayed.damaged;
  if (!line) return;
  const rejectedFile = path.join(dataDir, REJECTED_FILE);
  const description = describeDamagedLine(line.text);
  const report = { file, lineNumber: line.lineNumber, offset: line.offset, terminated: line.terminated, ...description };
  const record = { rejectedAt: new Date().toISOString(), ...report, text: line.text };
  let keptIn: string | undefined = rejectedFile;
  try {
    const existed = fs.existsSync(rejectedFile);
    const fd = fs.openSync(rejectedFile, 'a', PRIVATE_FILE_MODE);
    try {
      writeAllSync(fd, Buffer.from(`${JSON.stringify(record)}\n`, 'utf8'));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (!existed) fsyncDirectory(dataDir);
  } catch (err) {
    keptIn = undefined;
    (logger.error ?? logger.warn).call(
      logger,
      { ...report, rejectedFile, err: err instanceof Error ? err.message : String(err) },
      'journal: could not keep the damaged last line aside; it is cut from the journal all the same (never acknowledged)',
    );
  }
  // Cutting the line is a truncation, not a rewrite: it needs no free space.
  const fd = fs.openSync(file, 'r+');
  try {
    fs.ftruncateSync(fd, replayed.validBytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  logger.warn(
    { ...report, ...(keptIn ? { rejectedFile: keptIn } : {}) },
    `journal: set aside a damaged last line (an interrupted, unacknowledged write${
      description.entry ? ` of ${describeBriefly(description)}` : ''
    })`,
  );
}

function describeBriefly(description: DamagedLineDescription): string {
  if (description.resources && description.resources.length > 0) {
    return description.resources
      .map((r) => `${r.type}/${r.id}${r.versionId === undefined ? '' : `/_history/${r.versionId}`}`)
      .join(', ');
  }
  return description.kind ? `${description.entry} ${description.kind}` : (description.entry as string);
}
