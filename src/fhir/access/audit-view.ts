/**
 * What a reader without full access to the project sees of an AuditEvent (docs/audit.md "Who can read
 * AuditEvents"). An AuditEvent names the resources a request touched, the query it ran and the rule that decided;
 * shown as stored, it would tell a reader about resources a direct read with the same token refuses. So, for every
 * reader but owners, admins and callers with a full-access policy:
 * - each `entity` whose `what` the reader could not read directly (`GET Type/id`, or for a versioned reference
 *   `GET Type/id/_history/v`, with the same token: scopes and policies) is removed, and so is an entity that names
 *   something without a `what` the reader could judge (the query of a search, a deciding role or list of policies);
 * - no entity keeps a `query` or `detail`;
 * - `outcomeDesc` keeps only its head (`200 permitted`, `404 refused by policy`, the security event's name): its
 *   path and diagnostics may name what was withheld;
 * - the resource carries the security label REDACTED (v3-ObservationValue) in `meta.security`, and its search values
 *   are those of what is shown, so that a search condition on withheld content matches nothing (visible-documents.ts).
 * Agents (who did it, from where, through which app) stay: they are what an accounting of disclosures reports.
 */
import type { ResourceDocument } from '../../storage/ports';
import { isResourceType } from '../definitions';
import type { Resource } from '../repository/repository';
import { toPublicView } from '../repository/write-only-fields';
import { buildSearchIndex } from '../search/indexing/build-index';
import type { AccessJudge } from './judge';

/** The types shown through this view. */
export const AUDIT_VIEW_TYPES: ReadonlySet<string> = new Set(['AuditEvent']);

/** `Type/id`, or `Type/id/_history/v`: the references an AuditEvent's entities carry. */
const ENTITY_REFERENCE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/([1-9]\d{0,8}))?$/;
/** The head of a FHIR interaction's outcomeDesc (audit-event.ts describeOutcome). */
const REST_HEAD = /^(?:\d+ requests: )?\d{3} (?:permitted|refused)(?: by [a-z-]+)?/;
const REDACTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'REDACTED', display: 'redacted' };
/** object-role codes of entities that name something without a reference: a query (24), a security resource (13). */
const UNREFERENCED_ROLES: ReadonlySet<string> = new Set(['24', '13']);

type Json = Record<string, unknown>;

const roleOf = (entity: Json): string | undefined => (entity.role as { code?: string } | undefined)?.code;

/**
 * The head of an outcomeDesc: for a FHIR interaction its count, status and decision; for a security event its name.
 * @param text - the stored outcomeDesc
 * @returns the head
 */
export function outcomeHead(text: string): string {
  return REST_HEAD.exec(text)?.[0] ?? text.split(':')[0] ?? '';
}

/** The AuditEvents of one request as its (restricted) reader sees them. */
export class AuditEventView {
  private readonly readable = new Map<string, Promise<boolean>>();

  /**
   * @param load - reads a stored version (`versionId` undefined: the current one), unjudged
   * @param judge - the reader's judgement, noting nothing in the request's decision event
   */
  constructor(
    private readonly load: (type: string, id: string, versionId?: number) => Promise<ResourceDocument | undefined>,
    private readonly judge: AccessJudge,
  ) {}

  /**
   * A document as the reader sees it (documents of other types are returned as they are).
   * @param doc - a stored document (its resource the public view)
   * @returns the document with the redacted resource and its search values
   */
  readonly show = async (doc: ResourceDocument): Promise<ResourceDocument> => {
    if (!AUDIT_VIEW_TYPES.has(doc.type) || !doc.resource) return doc;
    const { entity, outcomeDesc, meta, ...rest } = doc.resource;
    const kept: Json[] = [];
    for (const one of Array.isArray(entity) ? (entity as Json[]) : []) {
      const shown = await this.entity(one);
      if (shown) kept.push(shown);
    }
    const stamp = (meta ?? {}) as Json;
    const security = Array.isArray(stamp.security) ? (stamp.security as Json[]) : [];
    const resource: Json = { ...rest, meta: { ...stamp, security: [...security, REDACTED] } };
    if (typeof outcomeDesc === 'string') resource.outcomeDesc = outcomeHead(outcomeDesc);
    if (kept.length > 0) resource.entity = kept;
    const { index, sort } = buildSearchIndex(resource);
    return { ...doc, resource, index, sort };
  };

  private async entity(entity: Json): Promise<Json | undefined> {
    const role = roleOf(entity);
    if (role === '24') return undefined;
    const what = entity.what as { reference?: unknown } | undefined;
    if (what !== undefined) {
      if (typeof what.reference !== 'string' || !(await this.mayRead(what.reference))) return undefined;
    } else if (role !== undefined && UNREFERENCED_ROLES.has(role)) {
      return undefined;
    }
    const { query: _query, detail: _detail, ...shown } = entity;
    return shown;
  }

  /**
   * Whether a direct read of a reference with the same token answers 200 (memoized for the request).
   * @param reference - `Type/id` or `Type/id/_history/v`
   * @returns true when readable
   */
  private mayRead(reference: string): Promise<boolean> {
    let readable = this.readable.get(reference);
    if (!readable) {
      readable = this.judgeRead(reference);
      this.readable.set(reference, readable);
    }
    return readable;
  }

  private async judgeRead(reference: string): Promise<boolean> {
    const match = ENTITY_REFERENCE.exec(reference);
    const [, type, id, version] = match ?? [];
    if (!type || !id || !isResourceType(type)) return false;
    const doc = await this.load(type, id, version === undefined ? undefined : Number(version));
    if (!doc || doc.deleted || !doc.resource) return false;
    return this.judge.mayRead(toPublicView(doc.resource) as Resource, version === undefined ? 'read' : 'vread', doc);
  }
}
