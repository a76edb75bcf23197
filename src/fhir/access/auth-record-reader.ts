/**
 * What the auth-resource guards (escalation.ts) read to judge a write: the stored state of Users, Memberships
 * and ClientApplications and the AccessPolicies that target them. Read with the server's authority (the guards
 * must see what the caller may not), through the repository the write goes to, so that a transaction's guards
 * see the entries staged before them. Credentials are never handed out (public views only).
 */
import type { FhirRepository, Resource } from '../repository/repository';
import { toPublicView } from '../repository/write-only-fields';

/** The last live version of an id. */
export interface LastLive {
  resource: Resource;
  /** True when the id's current version is a deletion (`resource` is the version it removed). */
  deleted: boolean;
}

/** Reads for the guards; see the module comment. */
export interface AuthRecordReader {
  /**
   * The current live version of an id, or, when the current version is a deletion, the version it removed.
   * @param type - the resource type
   * @param id - the id
   * @returns the version, or undefined when the id was never used
   */
  lastLive(type: string, id: string): Promise<LastLive | undefined>;
  /**
   * The live AccessPolicies whose `target.link` names a principal.
   * @param reference - `Membership/<id>` or `ClientApplication/<id>`
   * @returns the policies
   */
  policiesTargeting(reference: string): Promise<Resource[]>;
  /**
   * The live Memberships whose `user` names a User.
   * @param userId - the User id
   * @returns the memberships
   */
  membershipsOf(userId: string): Promise<Resource[]>;
}

/**
 * The reader of a repository (the unrestricted one underneath the access-controlled repository).
 * @param repo - the repository the write goes to
 * @returns the reader
 */
export function authRecordReader(repo: FhirRepository): AuthRecordReader {
  const live = async (filter: Record<string, unknown>): Promise<Resource[]> =>
    (await repo.search(filter)).filter((doc) => doc.resource).map((doc) => toPublicView(doc.resource as Resource));
  return {
    async lastLive(type, id) {
      const current = await repo.readCurrent(type, id);
      if (!current) return undefined;
      if (!current.deleted && current.resource) return { resource: toPublicView(current.resource) as Resource, deleted: false };
      const removed = current.versionId > 1 ? await repo.readVersion(type, id, current.versionId - 1) : undefined;
      // A deletion always follows a live version; an unreadable one is still an id that was used.
      const resource = removed?.resource ? (toPublicView(removed.resource) as Resource) : { resourceType: type, id };
      return { resource, deleted: true };
    },
    policiesTargeting: (reference) => live({ type: 'AccessPolicy', 'index.target': { $elemMatch: { r: reference } } }),
    membershipsOf: (userId) => live({ type: 'Membership', 'index.user': { $elemMatch: { r: `User/${userId}` } } }),
  };
}
