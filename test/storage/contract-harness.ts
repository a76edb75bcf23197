/**
 * Shared pieces of the storage contract suites: opening a fresh storage per test, unique project names (so the
 * suite also runs on a shared MongoDB database) and document builders.
 */
import { randomUUID } from 'node:crypto';
import type { ResourceDocument, ResourceWrite, Storage } from '../../src/storage/ports';

/** Opens a storage for one test. */
export type OpenStorage = () => Promise<Storage>;
/** Runs after each test, once the storage is closed (e.g. removes a temp directory). */
export type CleanupStorage = () => Promise<void>;

/** The storage and project of the running test. */
export interface ContractContext {
  storage: Storage;
  project: string;
}

/**
 * Registers beforeEach/afterEach hooks that open a storage and pick a fresh project for every test.
 *
 * @param open - opens the storage under test
 * @param cleanup - runs after the storage is closed
 * @returns a getter for the running test's context
 */
export function useStorage(open: OpenStorage, cleanup?: CleanupStorage): () => ContractContext {
  let context: ContractContext | undefined;
  beforeEach(async () => {
    context = { storage: await open(), project: `p-${randomUUID().slice(0, 12)}` };
  });
  afterEach(async () => {
    await context?.storage.close();
    context = undefined;
    await cleanup?.();
  });
  return () => {
    if (!context) throw new Error('storage is not open');
    return context;
  };
}

/** A stored version without `_id`. */
export type Version = Omit<ResourceDocument, '_id'>;

/**
 * An ISO instant `minutes` after a fixed origin.
 *
 * @param minutes - offset in minutes
 */
export function at(minutes: number): string {
  return new Date(Date.UTC(2026, 0, 1, 0, 0, 0) + minutes * 60_000).toISOString();
}

/**
 * Builds a version document.
 *
 * @param project - project
 * @param type - resource type
 * @param id - resource id
 * @param versionId - version (1 for the first)
 * @param extra - fields to override (index, uniqueKeys, lastUpdated, resource, ...)
 */
export function version(
  project: string,
  type: string,
  id: string,
  versionId: number,
  extra: Partial<Version> = {},
): Version {
  return {
    project,
    type,
    id,
    versionId,
    lastUpdated: at(versionId),
    deleted: false,
    method: versionId === 1 ? 'create' : 'update',
    resource: { resourceType: type, id, meta: { versionId: String(versionId) } },
    ...extra,
  };
}

/**
 * A deletion marker version.
 *
 * @param project - project
 * @param type - resource type
 * @param id - resource id
 * @param versionId - the marker's version
 * @param lastUpdated - instant of the deletion
 */
export function deletion(project: string, type: string, id: string, versionId: number, lastUpdated = at(versionId)): Version {
  return { project, type, id, versionId, lastUpdated, deleted: true, method: 'delete' };
}

/**
 * A write expecting the version before `doc`.
 *
 * @param doc - the new version
 */
export function writeOf(doc: Version): ResourceWrite {
  return { doc, expectedVersion: doc.versionId - 1 };
}

/**
 * Ids of documents, in order.
 *
 * @param docs - search or history results
 */
export function ids(docs: Array<{ id: string }>): string[] {
  return docs.map((d) => d.id);
}
