/**
 * Generators of the access-door property test (test/api/access-door.property.test.ts): a small seeded PRNG, a
 * dataset of several resource types that reference each other, random principals (SMART system/ scopes and
 * AccessPolicies) and random searches. Everything is a pure function of the seed, so a failing run is
 * reproduced by its seed alone.
 */

import { seededRandom } from '../helpers/seeded-random';

type Json = Record<string, unknown>;

/** A seeded generator (mulberry32): the same seed gives the same sequence. */
export class Rng {
  /** A float in [0, 1). */
  readonly next: () => number;

  constructor(seed: number) {
    this.next = seededRandom(seed);
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)] as T;
  }

  /** Each element independently with probability p, in order. */
  some<T>(items: readonly T[], p: number): T[] {
    return items.filter(() => this.chance(p));
  }
}

/** The resource types of the dataset. */
export const TYPES = ['Patient', 'Practitioner', 'Organization', 'Encounter', 'Observation', 'Condition'] as const;
export type DataType = (typeof TYPES)[number];

const COUNTS: Record<DataType, number> = { Organization: 3, Practitioner: 4, Patient: 7, Encounter: 6, Observation: 12, Condition: 4 };
const PREFIX: Record<DataType, string> = { Organization: 'org', Practitioner: 'prac', Patient: 'pat', Encounter: 'enc', Observation: 'obs', Condition: 'cond' };
const FAMILIES = ['Ng', 'Okafor', 'Silva', 'Berg'];
const PRACTITIONER_FAMILIES = ['Hale', 'Ivers', 'Jung', 'Kato'];
const ORG_NAMES = ['North', 'South', 'East'];
const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const CLINICAL = 'http://terminology.hl7.org/CodeSystem/condition-clinical';

/** `Type/id` of every resource of a type. */
export function refsOf(type: DataType): string[] {
  return Array.from({ length: COUNTS[type] }, (_, i) => `${type}/${PREFIX[type]}-${i}`);
}

const idOf = (ref: string): string => ref.split('/')[1] as string;

/**
 * The dataset: Organizations (some part of another), Practitioners, Patients (managing organization, general
 * practitioner), Encounters (subject, participant, service provider), Observations (subject, performers,
 * encounter) and Conditions (subject, encounter, asserter), with field values the policies, scopes and searches
 * look at.
 * @param rng - the generator
 * @returns the resources, referenced resources first
 */
export function generateDataset(rng: Rng): Json[] {
  const ref = (type: DataType) => ({ reference: rng.pick(refsOf(type)) });
  const out: Json[] = [];
  for (const [i, r] of refsOf('Organization').entries()) {
    out.push({ resourceType: 'Organization', id: idOf(r), name: ORG_NAMES[i], ...(i > 0 && rng.chance(0.7) ? { partOf: { reference: `Organization/org-${i - 1}` } } : {}) });
  }
  for (const r of refsOf('Practitioner')) {
    out.push({ resourceType: 'Practitioner', id: idOf(r), gender: rng.pick(['female', 'male']), name: [{ family: rng.pick(PRACTITIONER_FAMILIES) }] });
  }
  for (const r of refsOf('Patient')) {
    out.push({
      resourceType: 'Patient',
      id: idOf(r),
      gender: rng.pick(['female', 'male']),
      name: [{ family: rng.pick(FAMILIES) }],
      ...(rng.chance(0.7) ? { managingOrganization: ref('Organization') } : {}),
      ...(rng.chance(0.6) ? { generalPractitioner: [ref('Practitioner')] } : {}),
    });
  }
  for (const r of refsOf('Encounter')) {
    out.push({
      resourceType: 'Encounter',
      id: idOf(r),
      status: rng.pick(['finished', 'in-progress']),
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
      subject: ref('Patient'),
      ...(rng.chance(0.6) ? { participant: [{ individual: ref('Practitioner') }] } : {}),
      ...(rng.chance(0.5) ? { serviceProvider: ref('Organization') } : {}),
    });
  }
  for (const r of refsOf('Observation')) {
    const performers = [...rng.some(refsOf('Practitioner'), 0.25), ...rng.some(refsOf('Organization'), 0.1)].map((reference) => ({ reference }));
    out.push({
      resourceType: 'Observation',
      id: idOf(r),
      status: rng.pick(['final', 'preliminary', 'amended']),
      category: [{ coding: [{ system: CATEGORY, code: rng.pick(['laboratory', 'vital-signs']) }] }],
      code: { text: rng.pick(['weight', 'glucose', 'pulse']) },
      subject: ref('Patient'),
      ...(performers.length > 0 ? { performer: performers } : {}),
      ...(rng.chance(0.6) ? { encounter: ref('Encounter') } : {}),
    });
  }
  for (const r of refsOf('Condition')) {
    out.push({
      resourceType: 'Condition',
      id: idOf(r),
      clinicalStatus: { coding: [{ system: CLINICAL, code: rng.pick(['active', 'resolved']) }] },
      code: { text: rng.pick(['asthma', 'diabetes']) },
      subject: ref('Patient'),
      ...(rng.chance(0.5) ? { encounter: ref('Encounter') } : {}),
      ...(rng.chance(0.5) ? { asserter: ref('Practitioner') } : {}),
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Principals

/** Scope restrictions per type (search parameters with values present in the dataset). */
const RESTRICTIONS: Partial<Record<DataType, string[]>> = {
  Observation: ['status=final', 'category=laboratory'],
  Patient: ['gender=female'],
  Encounter: ['status=finished'],
  Condition: ['clinical-status=active'],
  Practitioner: ['gender=male'],
};

/**
 * Random system/ scopes. Every scope carries `r` and `s` together (`.rs`, `.read`, `.cruds`, `.*`, restricted
 * `.rs?...`), so what the token may read and what it may search coincide: the property test computes the
 * visible subset by direct reads and expects searches to see exactly that subset.
 */
function generateScopes(rng: Rng): string[] {
  if (rng.chance(0.15)) return [`system/*.${rng.pick(['rs', 'read', 'cruds', '*'])}`];
  const scopes: string[] = [];
  for (const type of TYPES) {
    if (!rng.chance(0.65)) continue;
    const restrictions = RESTRICTIONS[type] ?? [];
    const roll = rng.next();
    if (roll < 0.3) scopes.push(`system/${type}.rs`);
    else if (roll < 0.5) scopes.push(`system/${type}.read`);
    else if (roll < 0.65) scopes.push(`system/${type}.cruds`);
    else if (roll < 0.75 || restrictions.length === 0) scopes.push(`system/${type}.*`);
    else {
      // One or two restricted scopes for the type: the token may see the union of what they allow.
      const picked = rng.some(restrictions, 0.6);
      for (const restriction of picked.length > 0 ? picked : [rng.pick(restrictions)]) scopes.push(`system/${type}.rs?${restriction}`);
    }
  }
  if (rng.chance(0.05)) scopes.push('system/*.rs?status=final');
  if (scopes.length === 0) scopes.push(`system/${rng.pick(TYPES)}.rs`);
  return scopes;
}

/** Boolean FHIRPath conditions on one type's fields (the focus is the resource). */
function fieldConditions(type: DataType, rng: Rng): string[] {
  const patient = rng.pick(refsOf('Patient'));
  switch (type) {
    case 'Observation':
      return [
        "status = 'final'",
        "status != 'preliminary'",
        "category.coding.where(code = 'laboratory').exists()",
        `subject.reference = '${patient}'`,
        `performer.where(reference = '${rng.pick(refsOf('Practitioner'))}').exists()`,
      ];
    case 'Patient':
      return ["gender = 'female'", `name.where(family = '${rng.pick(FAMILIES)}').exists()`, `managingOrganization.reference = '${rng.pick(refsOf('Organization'))}'`];
    case 'Encounter':
      return ["status = 'finished'", `subject.reference = '${patient}'`];
    case 'Condition':
      return ["clinicalStatus.coding.where(code = 'active').exists()", `subject.reference = '${patient}'`];
    case 'Practitioner':
      return ["gender = 'male'"];
    case 'Organization':
      return [`name = '${rng.pick(ORG_NAMES)}'`];
  }
}

/** A rule: target and/or condition chosen among resource type, id and field value expressions. */
function generateRule(rng: Rng, effect: 'permit' | 'deny'): Json {
  const type = rng.pick(TYPES);
  const someId = (): string => idOf(rng.pick(refsOf(rng.pick(TYPES))));
  const kind = rng.pick(['type', 'type', 'type-field', 'type-field', 'focus-type', 'id', 'field', 'everything'] as const);
  const rule: Json = { name: `${effect} ${kind}`, ...(effect === 'deny' ? { effect: 'deny' } : {}) };
  const place = (expression: string): void => {
    if (rng.chance(0.5) || rule.target) rule.condition = { expression };
    else rule.target = { expression };
  };
  switch (kind) {
    case 'type':
      rule.target = { expression: `%request.resourceType = '${type}'` };
      break;
    case 'type-field':
      rule.target = { expression: `%request.resourceType = '${type}'` };
      rule.condition = { expression: rng.pick(fieldConditions(type, rng)) };
      break;
    case 'focus-type':
      place(rng.chance(0.5) ? `resourceType = '${type}'` : `%resource.resourceType = '${type}'`);
      break;
    case 'id': {
      const id = someId();
      place(rng.chance(0.5) ? `%resource.id = '${id}'` : rng.chance(0.5) ? `id = '${id}'` : `id in ('${id}' | '${someId()}')`);
      break;
    }
    case 'field':
      place(rng.pick(fieldConditions(type, rng)));
      break;
    case 'everything':
      // No target, no condition: applies to everything (rare for a deny, which then hides everything).
      if (effect === 'deny' && rng.chance(0.7)) rule.target = { expression: `%request.resourceType = '${type}'` };
      break;
  }
  return rule;
}

/** A principal: a client with scopes and AccessPolicies (without ids and targets). */
export interface PrincipalSpec {
  name: string;
  scopes: string[];
  policies: Array<{ engine: 'full-access' | 'rule-engine'; rule?: Json[] }>;
}

/**
 * A random principal. Rules judge only the resource and `%request.resourceType` — never `%request.interaction`
 * or `%request.parameters` — so a resource is visible to a read exactly when it is visible to a search, an
 * include or a chain of its type.
 * @param rng - the generator
 * @param index - its number
 * @returns the principal
 */
export function generatePrincipal(rng: Rng, index: number): PrincipalSpec {
  const scopes = generateScopes(rng);
  const policies: PrincipalSpec['policies'] = [];
  const roll = rng.next();
  const rules = (effect: 'permit' | 'deny', min: number, max: number): Json[] => Array.from({ length: min + rng.int(max - min + 1) }, () => generateRule(rng, effect));
  if (roll < 0.2) policies.push({ engine: 'full-access' });
  else if (roll < 0.3) policies.push({ engine: 'full-access' }, { engine: 'rule-engine', rule: rules('deny', 1, 2) });
  else policies.push({ engine: 'rule-engine', rule: [...rules('permit', 1, 4), ...(rng.chance(0.4) ? rules('deny', 1, 2) : [])] });
  return { name: `door-p${index}`, scopes, policies };
}

/**
 * A one-line description of a principal for failure messages.
 * @param p - the principal
 * @returns the description
 */
export function describePrincipal(p: PrincipalSpec): string {
  const policies = p.policies.map((policy) => {
    if (policy.engine === 'full-access') return 'full-access';
    const rules = (policy.rule ?? []).map((r) => {
      const target = (r.target as { expression?: string } | undefined)?.expression;
      const condition = (r.condition as { expression?: string } | undefined)?.expression;
      return `${r.effect === 'deny' ? 'deny' : 'permit'}[${target ?? '-'} | ${condition ?? '-'}]`;
    });
    return `rule-engine{${rules.join(', ')}}`;
  });
  return `${p.name} scopes="${p.scopes.join(' ')}" policies=${policies.join(' + ')}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Searches

const PLAIN: Record<DataType, (rng: Rng) => string> = {
  Observation: (rng) => rng.pick(['status=final', 'status=final,amended', 'category=laboratory', 'category=vital-signs', `subject=${rng.pick(refsOf('Patient'))}`, 'code:text=glucose']),
  Patient: (rng) => rng.pick([`gender=${rng.pick(['female', 'male'])}`, `family=${rng.pick(FAMILIES)}`, `organization=${rng.pick(refsOf('Organization'))}`]),
  Encounter: (rng) => rng.pick(['status=finished', `subject=${rng.pick(refsOf('Patient'))}`]),
  Condition: (rng) => rng.pick(['clinical-status=active', `subject=${rng.pick(refsOf('Patient'))}`]),
  Practitioner: (rng) => `gender=${rng.pick(['female', 'male'])}`,
  Organization: (rng) => `name=${rng.pick(ORG_NAMES)}`,
};

const gender = (rng: Rng): string => rng.pick(['female', 'male']);

const CHAINS: Record<DataType, Array<(rng: Rng) => string>> = {
  Observation: [
    (rng) => `subject:Patient.gender=${gender(rng)}`,
    (rng) => `subject:Patient.family=${rng.pick(FAMILIES)}`,
    (rng) => `patient.general-practitioner:Practitioner.gender=${gender(rng)}`,
    () => 'encounter:Encounter.status=finished',
    (rng) => `encounter:Encounter.subject:Patient.gender=${gender(rng)}`,
    (rng) => `performer:Practitioner.gender=${gender(rng)}`,
    (rng) => `subject:Patient.organization.name=${rng.pick(ORG_NAMES)}`,
  ],
  Encounter: [
    (rng) => `subject:Patient.gender=${gender(rng)}`,
    (rng) => `service-provider.name=${rng.pick(ORG_NAMES)}`,
    (rng) => `participant:Practitioner.gender=${gender(rng)}`,
  ],
  Condition: [(rng) => `subject:Patient.gender=${gender(rng)}`, () => 'encounter:Encounter.status=finished', (rng) => `asserter:Practitioner.gender=${gender(rng)}`, (rng) => `encounter:Encounter.subject:Patient.family=${rng.pick(FAMILIES)}`],
  Patient: [(rng) => `organization.name=${rng.pick(ORG_NAMES)}`, (rng) => `general-practitioner:Practitioner.gender=${gender(rng)}`, (rng) => `organization.partof.name=${rng.pick(ORG_NAMES)}`],
  Organization: [(rng) => `partof.name=${rng.pick(ORG_NAMES)}`],
  Practitioner: [],
};

const HAS: Record<DataType, Array<(rng: Rng) => string>> = {
  Patient: [
    () => '_has:Observation:subject:status=final',
    () => '_has:Observation:patient:category=laboratory',
    () => '_has:Encounter:subject:status=finished',
    () => '_has:Condition:subject:clinical-status=active',
    (rng) => `_has:Observation:subject:_id=${idOf(rng.pick(refsOf('Observation')))}`,
    (rng) => `_has:Observation:subject:performer:Practitioner.gender=${gender(rng)}`,
  ],
  Practitioner: [() => '_has:Observation:performer:status=final', (rng) => `_has:Patient:general-practitioner:gender=${gender(rng)}`, () => '_has:Encounter:participant:status=finished'],
  Encounter: [() => '_has:Observation:encounter:category=laboratory', () => '_has:Condition:encounter:clinical-status=active'],
  Organization: [(rng) => `_has:Patient:organization:gender=${gender(rng)}`, () => '_has:Encounter:service-provider:status=finished'],
  Observation: [],
  Condition: [],
};

const INCLUDES: Record<DataType, string[]> = {
  Observation: ['Observation:subject', 'Observation:patient', 'Observation:performer', 'Observation:encounter', 'Observation:subject:Patient', 'Observation:*', '*'],
  Encounter: ['Encounter:subject', 'Encounter:participant', 'Encounter:service-provider', 'Encounter:*', '*'],
  Condition: ['Condition:subject', 'Condition:encounter', 'Condition:asserter', 'Condition:*', '*'],
  Patient: ['Patient:organization', 'Patient:general-practitioner', 'Patient:*', '*'],
  Organization: ['Organization:partof', '*'],
  Practitioner: ['*'],
};

const ITERATES = ['Encounter:subject', 'Patient:organization', 'Organization:partof', 'Patient:general-practitioner', 'Observation:encounter', 'Encounter:participant', 'Condition:asserter'];

const REVINCLUDES: Record<DataType, string[]> = {
  Patient: ['Observation:subject', 'Observation:patient', 'Encounter:subject', 'Condition:subject', 'Observation:*'],
  Practitioner: ['Observation:performer', 'Patient:general-practitioner', 'Encounter:participant', 'Condition:asserter'],
  Organization: ['Patient:organization', 'Organization:partof', 'Observation:performer', 'Encounter:service-provider'],
  Encounter: ['Observation:encounter', 'Condition:encounter'],
  Observation: [],
  Condition: [],
};

/** One search: the type and the query string. */
export interface SearchSpec {
  type: DataType;
  query: string;
  /** `_total=accurate` was asked for. */
  total: boolean;
  /** `_summary=count`: only the total is returned. */
  countOnly: boolean;
}

/**
 * A random type search: plain criteria, `_id`, chains (1-2 links), `_has`, `_include` (specific, typed,
 * wildcard, `:iterate`), `_revinclude`, `_total=accurate`, `_summary=count` and small `_count` values.
 * @param rng - the generator
 * @returns the search
 */
export function generateSearch(rng: Rng): SearchSpec {
  const type = rng.pick(TYPES);
  const params: string[] = [];
  if (rng.chance(0.35)) params.push(PLAIN[type](rng));
  if (rng.chance(0.1)) params.push(`_id=${rng.some(refsOf(type), 0.4).map(idOf).join(',') || idOf(rng.pick(refsOf(type)))}`);
  if (CHAINS[type].length > 0 && rng.chance(0.35)) params.push(rng.pick(CHAINS[type])(rng));
  if (HAS[type].length > 0 && rng.chance(0.35)) params.push(rng.pick(HAS[type])(rng));
  const encode = (list: string[]): string => list.map((p) => p.replace('|', '%7C')).join('&');
  if (rng.chance(0.06)) return { type, query: encode([...params, '_summary=count']), total: false, countOnly: true };
  if (rng.chance(0.6)) for (const spec of rng.some(INCLUDES[type], 0.3).slice(0, 3)) params.push(`_include=${spec}`);
  if (rng.chance(0.3)) for (const spec of rng.some(ITERATES, 0.3)) params.push(`_include:iterate=${spec}`);
  if (REVINCLUDES[type].length > 0 && rng.chance(0.4)) for (const spec of rng.some(REVINCLUDES[type], 0.4)) params.push(`_revinclude=${spec}`);
  if (rng.chance(0.1)) params.push(`_revinclude:iterate=${rng.pick(['Observation:subject', 'Encounter:subject', 'Observation:encounter'])}`);
  if (rng.chance(0.03)) params.push('_revinclude=*');
  const total = rng.chance(0.4);
  if (total) params.push('_total=accurate');
  if (rng.chance(0.6)) params.push(`_count=${rng.pick([2, 3, 5, 7])}`);
  return { type, query: encode(params), total, countOnly: false };
}
