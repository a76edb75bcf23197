/**
 * How a search-like request (a search, the inner search of a chain or `_has`, includes, a conditional match,
 * history) treats each type it reaches, planned before any resource is seen:
 * - a type whose primary check (the interaction itself: search, history) is refused whatever the resource is left
 *   out, and when every type is, the request is refused (403);
 * - a type refused by another check (the direct read every returned resource must pass) is left out silently;
 * - scope restrictions of the open types become one store filter;
 * - a type whose checks are all open without conditions judges nothing per resource (the fast path); otherwise each
 *   resource of it is judged by every check, with the request the check names for that resource.
 */
import type { Filter, ResourceDocument } from '../../storage/ports';
import type { PolicyRequest } from '../../policy/types';
import type { Resource } from '../repository/repository';
import { type AccessJudge, scopeFilter, type Verdict } from './judge';
import type { ScopeAllowance } from './scope-gate';

/** One check every resource of a type must pass. */
export interface TypeCheck {
  /** The request planned for the whole type. */
  request: PolicyRequest;
  /** The request one resource is judged as (default: {@link TypeCheck.request}); e.g. the read of its id. */
  forResource?: (doc: ResourceDocument) => PolicyRequest;
  /** A refusal of this check refuses the type (and the request when every type is refused); others hide it. */
  primary: boolean;
}

/** The plan of a request over some types. */
export interface TypePlan {
  /** Set when every type was refused by its primary check: by the scopes alone, or by the policies. */
  refused?: 'scope' | 'policy';
  /** What the store must add: the open types and their scope restrictions (undefined: nothing to add). */
  filter?: Filter;
  /** True when some resource must be judged one by one. */
  perResource: boolean;
  /** The types left open (not refused by any check). */
  open: ReadonlySet<string>;
  /**
   * The document as the caller may see it, when that differs from the stored one (an AuditEvent shown to a reader
   * without full access: audit-view.ts). A search then also tests its criteria on what it shows, so that a condition
   * on withheld content matches nothing. Set only with {@link TypePlan.perResource}.
   */
  view?: (doc: ResourceDocument) => Promise<ResourceDocument>;
  /**
   * Whether one document found passes (its type open, its scope restriction, the policies).
   * @param doc - a stored document (its resource the public view or as stored)
   * @param scopeFiltered - the store already applied {@link TypePlan.filter}
   * @returns true when it may be shown
   */
  accept(doc: ResourceDocument, scopeFiltered: boolean): Promise<boolean>;
}

interface OpenCheck {
  check: TypeCheck;
  verdict: Extract<Verdict, { kind: 'open' }>;
}

/**
 * Plans a request over types.
 * @param judge - the caller's judge
 * @param types - the types reached
 * @param checksFor - the checks of one type
 * @returns the plan
 */
export async function planTypes(judge: AccessJudge, types: readonly string[], checksFor: (type: string) => TypeCheck[]): Promise<TypePlan> {
  const distinct = new Set(types);
  const open = new Map<string, OpenCheck[]>();
  const refusals: Array<'scope' | 'policy'> = [];
  await Promise.all(
    [...distinct].map(async (type) => {
      const checks = checksFor(type);
      const verdicts = await Promise.all(checks.map((c) => judge.verdict(c.request)));
      const primary = verdicts.find((v, i) => v.kind === 'refused' && checks[i]?.primary);
      if (primary?.kind === 'refused') {
        refusals.push(primary.by);
        return;
      }
      const opened: OpenCheck[] = [];
      for (const [i, verdict] of verdicts.entries()) {
        if (verdict.kind === 'refused') return;
        opened.push({ check: checks[i] as TypeCheck, verdict });
      }
      open.set(type, opened);
    }),
  );
  const refused = distinct.size > 0 && refusals.length === distinct.size ? (refusals.every((r) => r === 'scope') ? 'scope' : 'policy') : undefined;
  const allowances = new Map<string, ScopeAllowance[]>([...open].map(([type, checks]) => [type, checks.map((c) => c.verdict.scope)]));
  const perResource = [...open.values()].some((checks) => checks.some((c) => c.verdict.perResource));
  return {
    refused,
    filter: scopeFilter(allowances, distinct),
    perResource,
    open: new Set(open.keys()),
    accept: async (doc, scopeFiltered) => {
      const checks = open.get(doc.type);
      if (!checks || !doc.resource) return false;
      for (const { check, verdict } of checks) {
        if (!scopeFiltered && verdict.scope.kind === 'some' && !verdict.scope.test(doc)) return false;
        if (verdict.perResource && !(await judge.policiesPermit(check.forResource?.(doc) ?? check.request, doc.resource as Resource, undefined, doc))) return false;
      }
      return true;
    },
  };
}
