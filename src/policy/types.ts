/**
 * Types of the AccessPolicy engine (DESIGN §4 AccessPolicy, §5.3 decisions; docs/access-policies.md).
 * The engine knows nothing about HTTP: callers describe the request as a {@link PolicyRequest}.
 */

/** A FHIR resource as JSON. */
export type PolicyResource = Record<string, unknown> & { resourceType: string; id?: string };

/** What one rule, one policy, or the whole set of policies yields. `none` = nothing applicable. */
export type Outcome = 'permit' | 'deny' | 'none';

/** FHIR interactions (R4 restful-interaction codes, plus `operation` for `$name` calls). */
export type PolicyInteraction =
  | 'read'
  | 'vread'
  | 'update'
  | 'patch'
  | 'delete'
  | 'history-instance'
  | 'history-type'
  | 'history-system'
  | 'create'
  | 'search-type'
  | 'search-system'
  | 'capabilities'
  | 'batch'
  | 'transaction'
  | 'operation';

/** One query parameter of the request, as `%request.parameters` exposes it. */
export interface PolicyRequestParameter {
  name: string;
  value: string;
}

/** The request being judged; exposed to expressions as `%request`. */
export interface PolicyRequest {
  interaction: PolicyInteraction;
  /** The resource type addressed (absent for system-level interactions). */
  resourceType?: string;
  /** The logical id addressed (instance interactions). */
  id?: string;
  /** Query parameters in request order (search criteria, `_count`, ...). */
  parameters: PolicyRequestParameter[];
  /** The request body (the resource of a create/update, the patch document of a patch). */
  body?: unknown;
  /** For compartment searches (`Patient/123/Observation`): the compartment. */
  compartment?: { type: string; id: string };
  /** For `operation`: the operation name without `$`. */
  operation?: string;
}

/** A compiled FHIRPath expression of a policy. */
export interface CompiledExpression {
  /** The source text. */
  source: string;
  /** Where it sits in the policy, e.g. `AccessPolicy.rule[1].condition.expression`. */
  location: string;
  /** `%name` variables it reads (attribute ids among them). */
  variables: ReadonlySet<string>;
  /** True when its value may depend on the resource (`%resource`, `%before`, `%context`, the focus). */
  dependsOnResource: boolean;
  /** The members of `%request` it reads (from its parse tree), or `all` when it may read the whole request. */
  requestMembers: ReadonlySet<string> | 'all';
  /**
   * Evaluates it.
   * @param focus - the input collection (the resource, or undefined)
   * @param env - the variables
   * @returns the FHIRPath result collection
   */
  evaluate(focus: unknown, env: Readonly<Record<string, unknown>>): unknown[];
}

/** A compiled rule. */
export interface CompiledRule {
  /** `AccessPolicy.rule[0].rule[2]`. */
  path: string;
  name?: string;
  effect: 'permit' | 'deny';
  target?: CompiledExpression;
  condition?: CompiledExpression;
  combineBehavior: 'any' | 'all';
  rules: CompiledRule[];
}

/** A compiled attribute (`AccessPolicy.attribute[i]`). */
export interface CompiledAttribute {
  attributeId: string;
  path: string;
  type: 'read' | 'search-type';
  /** read: yields references (`Type/id` or Reference); search-type: yields the resource type. */
  source: CompiledExpression;
  /** search-type: yields query strings (`name=value&...`). */
  params?: CompiledExpression;
}

/** A compiled AccessPolicy. */
export interface CompiledPolicy {
  /** The AccessPolicy id. */
  id: string;
  versionId?: string;
  name?: string;
  engine: 'full-access' | 'rule-engine';
  /** `Membership/<id>` / `ClientApplication/<id>` references it targets. */
  targets: string[];
  rules: CompiledRule[];
  attributes: CompiledAttribute[];
  /** Set when a stored policy no longer compiles: it then denies everything (fail closed). */
  brokenReason?: string;
}

/** Who is asking. Built by `loadPrincipal` (principal.ts) from the token's claims. */
export interface PolicyPrincipal {
  project: string;
  /** `user` for tokens issued to a user (policies target the Membership), `client` otherwise. */
  kind: 'user' | 'client';
  /** `Membership/<id>` or `ClientApplication/<id>`: what AccessPolicy.target[].link must name. */
  reference: string;
  /** False when the User, Membership or ClientApplication is missing, deleted or inactive. */
  active: boolean;
  /** The User, without its password. */
  user?: PolicyResource;
  membership?: PolicyResource;
  /** The resource `Membership.link` names (Patient, Practitioner, ...). */
  fhirUser?: PolicyResource;
  /** The ClientApplication, without its secret. */
  client?: PolicyResource;
  scopes: string[];
  /** User.role (owner | admin | member). */
  role?: string;
  /** The policies that target {@link PolicyPrincipal.reference}. */
  policies: CompiledPolicy[];
}

/** How one rule or policy fared, as reported in a trace. */
export type TraceResult = 'permit' | 'deny' | 'not-applicable' | 'condition-false' | 'no-effect' | 'error';

/** One line of a decision trace. */
export interface TraceEntry {
  /** The AccessPolicy id (absent for role-based entries). */
  policy?: string;
  /** The rule path (`AccessPolicy.rule[0].rule[1]`); absent for policy-level entries. */
  rule?: string;
  /** The rule's name, when it has one. */
  name?: string;
  result: TraceResult;
  /** Why (e.g. the error message, `full-access engine`, `role owner`). */
  detail?: string;
}

/** The answer to one request. */
export interface Decision {
  effect: 'permit' | 'deny';
  /** The AccessPolicy that decided (absent when no policy did: role, nothing applicable, inactive). */
  policy?: string;
  /** The rule that decided, e.g. `AccessPolicy.rule[1]`. */
  rulePath?: string;
  /** A short explanation for logs and `$evaluate-policy`. */
  reason: string;
  /** Every rule considered, in evaluation order. */
  trace: TraceEntry[];
}

/** Reads data for attributes (`AccessPolicy.attribute.operation`), with the caller's project implied. */
export interface AttributeFetcher {
  /**
   * @param type - resource type
   * @param id - logical id
   * @returns the current resource, or undefined when missing or deleted
   */
  read(type: string, id: string): Promise<PolicyResource | undefined>;
  /**
   * @param type - resource type
   * @param query - search parameters as name/value pairs
   * @returns the matching resources
   */
  search(type: string, query: Array<[string, string]>): Promise<PolicyResource[]>;
}
