/**
 * SMART scopes on the FHIR API (DESIGN §5.2, docs/smart.md "Scopes and the FHIR API"): what a token's resource
 * scopes allow for one interaction on one type. The access-controlled repository intersects this with the
 * AccessPolicies; scopes only ever narrow.
 * - c → create, r → read and vread, u → update and patch, d → delete, s → search and history (v1 `read` =
 *   `rs`, `write` = `cud`, `*` = `cruds`); write never implies read. Malformed scopes (out-of-order or repeated
 *   v2 suffixes) were never granted and are ignored here too.
 * - `patient/` scopes allow only the compartment of the token's patient (R4 Patient CompartmentDefinition, the
 *   patient itself included); without a patient in context they allow nothing.
 * - A restricted scope (`patient/Observation.rs?category=laboratory`) allows only resources matching its query.
 * - Wildcard scopes (`system/*.rs`) may be asked not to cover a type: the access layer asks so for AuditEvent when
 *   the caller is not an owner/admin (docs/audit.md "Who can read AuditEvents"), so that only a scope naming it
 *   (`system/AuditEvent.rs`, `user/AuditEvent.rs`, `patient/AuditEvent.rs`) grants the audit trail.
 * The allowance is a store filter (pushed into searches) and a matcher for single documents, built from the same
 * search-parameter filters as searches.
 */
import { type MongoQuery, mongoQuery } from '../../storage/mongo-query';
import type { Filter, ResourceDocument } from '../../storage/ports';
import type { PolicyInteraction } from '../../policy/types';
import { parseResourceScope, type ResourceScope, type ScopePermission } from '../../smart/scopes';
import { compartmentFilter, MATCH_NOTHING } from '../search/compile-query';
import { parameterFilter } from '../search/index';

/** The scope permission each interaction needs; interactions without one are not scope-checked themselves. */
export const SCOPE_PERMISSION: Readonly<Partial<Record<PolicyInteraction, ScopePermission>>> = {
  create: 'c',
  read: 'r',
  vread: 'r',
  update: 'u',
  patch: 'u',
  delete: 'd',
  'search-type': 's',
  'search-system': 's',
  'history-instance': 's',
  'history-type': 's',
  'history-system': 's',
};

/** What the scopes allow for one interaction on one type. */
export type ScopeAllowance =
  | { kind: 'none' }
  | { kind: 'all' }
  | {
      kind: 'some';
      /** Matches exactly the allowed documents (without project, type and deletion conditions). */
      filter: Filter;
      /** Whether a stored document (or a candidate with its search index) is allowed. */
      test(doc: Pick<ResourceDocument, 'type' | 'id' | 'index'>): boolean;
    };

const ALL: ScopeAllowance = { kind: 'all' };

/** Parsed resource scopes per token scope list (a verified token's list is the same array on every request). */
const PARSED = new WeakMap<readonly string[], ResourceScope[]>();

function parsedScopes(tokens: readonly string[]): ResourceScope[] {
  let parsed = PARSED.get(tokens);
  if (!parsed) {
    parsed = tokens.map(parseResourceScope).filter((s): s is ResourceScope => s !== undefined);
    PARSED.set(tokens, parsed);
  }
  return parsed;
}
const NONE: ScopeAllowance = { kind: 'none' };

/** The resource scopes of one token. */
export class ScopeGate {
  private readonly scopes: ResourceScope[];
  private readonly allowances = new Map<string, ScopeAllowance>();

  /**
   * @param tokens - the token's granted scopes
   * @param patient - the id of the patient in context (`patient` claim), if any
   * @param baseUrl - the FHIR base (absolute references in restrictions)
   */
  constructor(
    tokens: readonly string[],
    private readonly patient: string | undefined,
    private readonly baseUrl: string,
  ) {
    this.scopes = parsedScopes(tokens);
  }

  /**
   * What the scopes allow.
   * @param interaction - the interaction
   * @param type - the resource type (undefined for system-level interactions, judged per type)
   * @param namedOnly - only scopes naming the type count (wildcard scopes do not cover it)
   * @returns the allowance
   */
  allowance(interaction: PolicyInteraction | undefined, type: string | undefined, namedOnly = false): ScopeAllowance {
    const permission = interaction ? SCOPE_PERMISSION[interaction] : undefined;
    if (!permission || !type) return ALL;
    const key = `${permission}|${type}|${namedOnly ? 'named' : ''}`;
    let allowance = this.allowances.get(key);
    if (!allowance) {
      allowance = this.compute(permission, type, namedOnly);
      this.allowances.set(key, allowance);
    }
    return allowance;
  }

  private compute(permission: ScopePermission, type: string, namedOnly: boolean): ScopeAllowance {
    const matching = this.scopes.filter((s) => s.permissions.has(permission) && (s.resourceType === type || (s.resourceType === '*' && !namedOnly)));
    if (matching.length === 0) return NONE;
    const branches: Filter[] = [];
    for (const scope of matching) {
      const conditions: Filter[] = [];
      if (scope.context === 'patient') conditions.push(this.patient === undefined ? MATCH_NOTHING : compartmentFilter(type, this.patient));
      for (const [name, value] of scope.restriction ?? []) conditions.push(this.restrictionFilter(type, name, value));
      if (conditions.length === 0) return ALL;
      branches.push(conditions.length === 1 ? (conditions[0] as Filter) : { $and: conditions });
    }
    const filter = branches.length === 1 ? (branches[0] as Filter) : { $or: branches };
    const query = mongoQuery(filter);
    return { kind: 'some', filter, test: (doc) => query.test(doc as unknown as Record<string, unknown>) };
  }

  private restrictionFilter(type: string, name: string, value: string): Filter {
    try {
      // A parameter unknown for this type (a wildcard scope's restriction) matches nothing of the type.
      return parameterFilter(type, name, value, { baseUrl: this.baseUrl }) ?? MATCH_NOTHING;
    } catch {
      return MATCH_NOTHING;
    }
  }
}
