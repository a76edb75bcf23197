/**
 * The files of export jobs: one directory per job under BULK_EXPORT_DIR, one NDJSON file per exported type
 * (`[type].ndjson`) and one for the errors (`OperationOutcome.ndjson`). Lines are written with backpressure (a
 * page at a time never piles up in memory) and the file is flushed to disk before the job records it as done.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';

/** Job ids are UUIDs; file names are `[type].ndjson`: nothing else is ever joined into a path. */
const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const FILE_NAME = /^[A-Za-z]{1,64}\.ndjson$/;

/** The export directory. */
export class ExportFiles {
  /** @param root - BULK_EXPORT_DIR */
  constructor(readonly root: string) {}

  /**
   * The path of a job's file.
   * @param jobId - the job id
   * @param name - the file name
   * @returns the path
   */
  pathOf(jobId: string, name: string): string {
    if (!JOB_ID.test(jobId) || !FILE_NAME.test(name)) throw new Error(`Not an export file: ${jobId}/${name}`);
    return path.join(this.root, jobId, name);
  }

  /**
   * Opens a file for writing from the start (a resumed type is written again).
   * @param jobId - the job id
   * @param name - the file name
   * @returns the writer
   */
  async create(jobId: string, name: string): Promise<NdjsonWriter> {
    const file = this.pathOf(jobId, name);
    await mkdir(path.dirname(file), { recursive: true });
    return new NdjsonWriter(file, createWriteStream(file, { flags: 'w' }));
  }

  /** Deletes a job's directory. */
  async remove(jobId: string): Promise<void> {
    if (!JOB_ID.test(jobId)) return;
    await rm(path.join(this.root, jobId), { recursive: true, force: true });
  }

  /** Deletes one file of a job (a type with nothing to export). */
  async removeFile(jobId: string, name: string): Promise<void> {
    await rm(this.pathOf(jobId, name), { force: true });
  }

  /**
   * The size of a file.
   * @returns its size in bytes, or undefined when it is gone
   */
  async size(jobId: string, name: string): Promise<number | undefined> {
    try {
      return (await stat(this.pathOf(jobId, name))).size;
    } catch {
      return undefined;
    }
  }

  /** The job directories present. */
  async jobIds(): Promise<string[]> {
    try {
      return (await readdir(this.root)).filter((name) => JOB_ID.test(name));
    } catch {
      return [];
    }
  }
}

/** Writes one NDJSON file. */
export class NdjsonWriter {
  count = 0;
  private failure?: Error;

  constructor(
    readonly file: string,
    private readonly stream: WriteStream,
  ) {
    stream.on('error', (err) => {
      this.failure = err;
    });
  }

  /**
   * Appends one resource as a line, waiting when the stream's buffer is full.
   * @param resource - the resource
   */
  async write(resource: unknown): Promise<void> {
    if (this.failure) throw this.failure;
    this.count++;
    if (!this.stream.write(`${JSON.stringify(resource)}\n`)) await once(this.stream, 'drain');
  }

  /** Closes the file once its lines are on disk. */
  async close(): Promise<void> {
    if (this.failure) throw this.failure;
    await new Promise<void>((resolve, reject) => this.stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
    const handle = await open(this.file, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  /** Abandons the file (its directory is removed by the caller). */
  destroy(): void {
    this.stream.destroy();
  }
}
