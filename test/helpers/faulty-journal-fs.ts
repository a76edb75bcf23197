/**
 * A journal file system for tests: the real one, plus faults switched on and off by the test (a write that fails
 * half-way with ENOSPC, an fdatasync that fails with EIO, a full disk reported to the free-space check) and a
 * count of fdatasyncs. Passed to the store through its options (`journalFileSystem`); production never has one.
 */
import {
  NODE_JOURNAL_FILE_SYSTEM,
  type JournalFileHandle,
  type JournalFileSystem,
} from '../../src/storage/embedded/journal-file';

/** An errno-style error as Node's fs raises it. */
export function fsError(code: 'ENOSPC' | 'EIO', syscall: string): NodeJS.ErrnoException {
  const messages = { ENOSPC: 'no space left on device', EIO: 'i/o error' };
  return Object.assign(new Error(`${code}: ${messages[code]}, ${syscall}`), { code, syscall, errno: code === 'ENOSPC' ? -28 : -5 });
}

/** The real journal file system with switchable faults. */
export class FaultyJournalFileSystem implements JournalFileSystem {
  /** When set, the next writes store half their bytes and then fail with this code. */
  writeFault: 'ENOSPC' | 'EIO' | undefined;
  /** How many writes fail before {@link writeFault} clears itself (unlimited by default). */
  writeFaultsLeft = Number.POSITIVE_INFINITY;
  /**
   * When set, the next fdatasync fails with this code (after the bytes were written). Reported once, as Linux
   * reports a writeback error once, unless {@link stickySyncFault}.
   */
  syncFault: 'ENOSPC' | 'EIO' | undefined;
  /** Every fdatasync fails while {@link syncFault} is set (a device gone for good). */
  stickySyncFault = false;
  /** When set, the free space the journal is told about, in bytes. */
  freeBytesOverride: number | undefined;
  /** Successful fdatasyncs of appended data. */
  datasyncs = 0;

  async openForAppend(path: string): Promise<JournalFileHandle> {
    const real = await NODE_JOURNAL_FILE_SYSTEM.openForAppend(path);
    return {
      write: async (data, offset, length) => {
        const fault = this.writeFault;
        if (!fault) return real.write(data, offset, length);
        const half = Math.floor(length / 2);
        if (half > 0) await real.write(data, offset, half);
        if (--this.writeFaultsLeft <= 0) this.writeFault = undefined;
        throw fsError(fault, 'write');
      },
      datasync: async () => {
        const fault = this.syncFault;
        if (fault) {
          if (!this.stickySyncFault) this.syncFault = undefined;
          throw fsError(fault, 'fdatasync');
        }
        await real.datasync();
        this.datasyncs++;
      },
      truncate: (length) => real.truncate(length),
      close: () => real.close(),
    };
  }

  freeBytes(dir: string): Promise<number> {
    return this.freeBytesOverride === undefined ? NODE_JOURNAL_FILE_SYSTEM.freeBytes(dir) : Promise.resolve(this.freeBytesOverride);
  }

  /** Clears every fault. */
  heal(): void {
    this.writeFault = undefined;
    this.writeFaultsLeft = Number.POSITIVE_INFINITY;
    this.syncFault = undefined;
    this.stickySyncFault = false;
    this.freeBytesOverride = undefined;
  }
}
