/**
 * Turns decision events into FHIR R4 AuditEvent resources, following the shapes of IHE Basic Audit Log Patterns
 * (BALP) where they fit (docs/audit.md):
 * - a FHIR interaction: `type` rest, `subtype` the interaction (http://hl7.org/fhir/restful-interaction), `action`
 *   C/R/U/D/E; writes of AccessPolicy, Membership, User and ClientApplication carry a second DICOM subtype
 *   (Security Roles Changed, User Security Attributes Changed, Security Configuration);
 * - a security event (token, login, consent, launch, signing key): `type` DICOM User Authentication or Security
 *   Alert, `subtype` the event (urn:fhir-smart-server:security-event, plus the DICOM Login code for logins);
 * - `outcome` 0 success, 4 minor failure (any 4xx: a refusal, bad input), 8 serious failure (5xx), 12 major failure
 *   (refresh-token reuse: a token was stolen or replayed);
 * - `agent`: the user (requestor; `altId` its fhirUser), the client app (requestor when no user), each with the
 *   client's network address; the server itself as destination;
 * - `entity`: the patient(s) whose compartment the touched resources are in (role Patient: what
 *   `AuditEvent?patient=` finds), each resource touched (role Domain Resource), the query of a search (role Query,
 *   base64), the AccessPolicy rule or role that decided (role Security Resource);
 * - `source`: this server (`observer.display` its public URL, `site` the tenant/project).
 * FHIR interactions of one caller with the same interaction and outcome, written in the same batch (≤ 1 s), share
 * one AuditEvent: `period` spans them, `outcomeDesc` counts them, `entity` lists every resource and patient.
 */
import { getPatientCompartmentParams } from '../fhir/definitions';
import { searchValues } from '../fhir/search/indexing/build-index';
import type { Caller, DecisionEvent, RestEvent, SecurityEvent, SecurityEventName } from './events';

/** Code systems and codes used (see docs/audit.md). */
export const AUDIT_CODES = {
  eventType: 'http://terminology.hl7.org/CodeSystem/audit-event-type',
  restfulInteraction: 'http://hl7.org/fhir/restful-interaction',
  dicom: 'http://dicom.nema.org/resources/ontology/DCM',
  securityEvent: 'urn:fhir-smart-server:security-event',
  entityType: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
  objectRole: 'http://terminology.hl7.org/CodeSystem/object-role',
  roleType: 'http://terminology.hl7.org/CodeSystem/extra-security-role-type',
  sourceType: 'http://terminology.hl7.org/CodeSystem/security-source-type',
} as const;

type Json = Record<string, unknown>;

const coding = (system: string, code: string, display?: string): Json => (display ? { system, code, display } : { system, code });

const ACTIONS: Record<string, 'C' | 'R' | 'U' | 'D' | 'E'> = {
  create: 'C',
  read: 'R',
  vread: 'R',
  'history-instance': 'R',
  'history-type': 'R',
  'history-system': 'R',
  capabilities: 'R',
  update: 'U',
  patch: 'U',
  delete: 'D',
};

/** Writes of these types change who may do what: their events carry a DICOM security subtype. */
const SECURITY_WRITES: Record<string, Json> = {
  AccessPolicy: coding(AUDIT_CODES.dicom, '110136', 'Security Roles Changed'),
  Membership: coding(AUDIT_CODES.dicom, '110136', 'Security Roles Changed'),
  User: coding(AUDIT_CODES.dicom, '110137', 'User Security Attributes Changed'),
  ClientApplication: coding(AUDIT_CODES.dicom, '110129', 'Security Configuration'),
};

const SECURITY_EVENTS: Record<SecurityEventName, { type: 'auth' | 'alert'; action: 'C' | 'R' | 'U' | 'D' | 'E'; display: string; dicom?: Json }> = {
  'token-issued': { type: 'auth', action: 'E', display: 'Access token issued' },
  'token-refreshed': { type: 'auth', action: 'E', display: 'Access token refreshed' },
  'token-failed': { type: 'auth', action: 'E', display: 'Token request refused' },
  'refresh-token-reuse': { type: 'alert', action: 'E', display: 'Refresh token reused: grant revoked' },
  'token-revoked': { type: 'auth', action: 'D', display: 'Token revoked' },
  'revocation-failed': { type: 'auth', action: 'D', display: 'Revocation request refused' },
  'introspection-failed': { type: 'auth', action: 'E', display: 'Introspection request refused' },
  'userinfo-failed': { type: 'auth', action: 'R', display: 'Userinfo request refused' },
  login: { type: 'auth', action: 'E', display: 'User signed in', dicom: coding(AUDIT_CODES.dicom, '110122', 'Login') },
  'login-failed': { type: 'auth', action: 'E', display: 'Sign-in failed', dicom: coding(AUDIT_CODES.dicom, '110122', 'Login') },
  'consent-granted': { type: 'auth', action: 'C', display: 'Consent granted' },
  'consent-denied': { type: 'auth', action: 'E', display: 'Consent denied' },
  'launch-created': { type: 'auth', action: 'C', display: 'EHR launch created' },
  'launch-failed': { type: 'auth', action: 'C', display: 'EHR launch refused' },
  'pushed-request-failed': { type: 'auth', action: 'C', display: 'Pushed authorization request refused' },
  'client-registered': { type: 'alert', action: 'C', display: 'Client registered', dicom: coding(AUDIT_CODES.dicom, '110129', 'Security Configuration') },
  'client-registration-updated': { type: 'alert', action: 'U', display: 'Client registration updated', dicom: coding(AUDIT_CODES.dicom, '110129', 'Security Configuration') },
  'client-registration-deleted': { type: 'alert', action: 'D', display: 'Client registration deleted', dicom: coding(AUDIT_CODES.dicom, '110129', 'Security Configuration') },
  'registration-failed': { type: 'auth', action: 'E', display: 'Client registration request refused' },
  'signing-key-created': { type: 'alert', action: 'C', display: 'Signing key created', dicom: coding(AUDIT_CODES.dicom, '110129', 'Security Configuration') },
  'signing-key-rotated': { type: 'alert', action: 'U', display: 'Signing key rotated', dicom: coding(AUDIT_CODES.dicom, '110129', 'Security Configuration') },
};

/**
 * The AuditEvent outcome code of an HTTP status.
 * @param status - the status
 * @param major - a major failure whatever the status (a security alert)
 * @returns 0, 4, 8 or 12
 */
export function outcomeCode(status: number, major = false): '0' | '4' | '8' | '12' {
  if (major) return '12';
  if (status >= 500) return '8';
  if (status >= 400) return '4';
  return '0';
}

/** What the builder needs to know of the server. */
export interface AuditSource {
  /** PUBLIC_URL. */
  publicUrl: string;
}

function network(caller: Caller): Json | undefined {
  return caller.ip ? { address: caller.ip, type: '2' } : undefined;
}

function agents(caller: Caller, source: AuditSource): Json[] {
  const list: Json[] = [];
  const net = network(caller);
  if (caller.userId !== undefined) {
    const user: Json = {
      type: { coding: [coding(AUDIT_CODES.roleType, 'humanuser', 'human user')] },
      who: { reference: `User/${caller.userId}` },
      requestor: true,
    };
    if (caller.fhirUser) user.altId = caller.fhirUser;
    if (caller.role) user.role = [{ text: caller.role }];
    if (net) user.network = net;
    list.push(user);
  }
  if (caller.clientId !== undefined) {
    const app: Json = {
      type: { coding: [coding(AUDIT_CODES.dicom, '110150', 'Application')] },
      who: { reference: `ClientApplication/${caller.clientId}` },
      requestor: caller.userId === undefined,
    };
    if (net) app.network = net;
    list.push(app);
  }
  if (caller.operator !== undefined) {
    list.push({ type: { coding: [coding(AUDIT_CODES.dicom, '110150', 'Application')] }, name: caller.operator, requestor: list.length === 0 });
  }
  if (list.length === 0) {
    // Nobody authenticated: the requestor is known only by its address.
    const anonymous: Json = { type: { coding: [coding(AUDIT_CODES.dicom, '110153', 'Source Role ID')] }, name: 'unauthenticated', requestor: true };
    if (net) anonymous.network = net;
    list.push(anonymous);
  }
  list.push({
    type: { coding: [coding(AUDIT_CODES.dicom, '110152', 'Destination Role ID')] },
    who: { display: source.publicUrl },
    requestor: false,
    network: { address: hostOf(source.publicUrl), type: '1' },
  });
  return list;
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return url;
  }
}

function sourceOf(caller: Caller, source: AuditSource): Json {
  return {
    site: caller.project,
    observer: { display: source.publicUrl },
    type: [coding(AUDIT_CODES.sourceType, '4', 'Application Server')],
  };
}

// Entity codings are shared (never mutated) and carry no display: a record may list hundreds of entities.
const PERSON = coding(AUDIT_CODES.entityType, '1');
const PATIENT_ROLE = coding(AUDIT_CODES.objectRole, '1');
const SYSTEM_OBJECT = coding(AUDIT_CODES.entityType, '2');
const DOMAIN_RESOURCE = coding(AUDIT_CODES.objectRole, '4');

const patientEntity = (id: string): Json => ({ what: { reference: `Patient/${id}` }, type: PERSON, role: PATIENT_ROLE });

const PATIENT_REFERENCE = /^(?:.*\/)?Patient\/([A-Za-z0-9\-.]{1,64})$/;

/**
 * The patients whose compartment a resource is in (R4 Patient CompartmentDefinition).
 * @param type - the type
 * @param id - the id
 * @param resource - the resource, when at hand
 * @param stored - its stored search values, when at hand
 * @returns patient ids
 */
export function compartmentPatients(type: string, id: string, resource?: Record<string, unknown>, stored?: Record<string, unknown>): string[] {
  if (type === 'Patient') return [id];
  const params = getPatientCompartmentParams(type);
  if ((!resource && !stored) || params.length === 0) return [];
  const index = stored ?? searchValues(resource as Json & { resourceType: string }, params);
  const ids: string[] = [];
  for (const code of params) {
    for (const entry of (index[code] ?? []) as Array<{ t?: string; i?: string }>) {
      if (entry.t === 'Patient' && entry.i) ids.push(entry.i);
    }
  }
  return ids;
}

/** Patients a search names (`patient=`, `subject=Patient/x`, `Patient/x/*`). */
function queriedPatients(event: RestEvent): string[] {
  const ids: string[] = [];
  const [first, second, third] = event.path.split('/');
  if (first === 'Patient' && second && third && !third.startsWith('_')) ids.push(second);
  if (!event.query) return ids;
  for (const [name, value] of new URLSearchParams(event.query)) {
    const base = name.split(':')[0];
    if (base !== 'patient' && base !== 'subject') continue;
    for (const part of value.split(',')) {
      const match = PATIENT_REFERENCE.exec(part);
      if (match?.[1]) ids.push(match[1]);
      else if (base === 'patient' && /^[A-Za-z0-9\-.]{1,64}$/.test(part)) ids.push(part);
    }
  }
  return ids;
}

function restEvent(group: readonly RestEvent[], source: AuditSource): Json {
  const event = group[0] as RestEvent;
  const last = group[group.length - 1] as RestEvent;
  const aggregated = group.length > 1;
  const subtype = [coding(AUDIT_CODES.restfulInteraction, event.interaction)];
  if (event.resourceType && SECURITY_WRITES[event.resourceType] && ['create', 'update', 'patch', 'delete'].includes(event.interaction)) {
    subtype.push(SECURITY_WRITES[event.resourceType] as Json);
  }
  if (event.resourceType === 'AuditEvent') subtype.push(coding(AUDIT_CODES.dicom, '110101', 'Audit Log Used'));
  const patients = new Set<string>();
  if (event.caller.patient) patients.add(event.caller.patient);
  const resources: Json[] = [];
  const domainResource = (reference: string): Json => ({ what: { reference }, type: SYSTEM_OBJECT, role: DOMAIN_RESOURCE });
  for (const one of group) {
    for (const id of queriedPatients(one)) patients.add(id);
    for (const touched of one.touched) {
      // An AuditEvent read is the use of the audit log, not of the patient's data its record names.
      if (touched.type !== 'AuditEvent') for (const id of compartmentPatients(touched.type, touched.id, touched.resource, touched.index)) patients.add(id);
      if (touched.type === 'Patient') continue;
      resources.push(domainResource(`${touched.type}/${touched.id}${touched.versionId ? `/_history/${touched.versionId}` : ''}`));
    }
    // An id the request named but did not touch (refused, unknown) is listed too.
    if (one.touched.length === 0 && one.resourceType && one.id) {
      if (one.resourceType === 'Patient') patients.add(one.id);
      else resources.push(domainResource(`${one.resourceType}/${one.id}`));
    }
  }
  // A read of one Patient is the patient entity itself.
  const entities: Json[] = [...[...patients].map(patientEntity), ...resources];
  if (event.query !== undefined || event.interaction.startsWith('search')) {
    const query: Json = {
      type: coding(AUDIT_CODES.entityType, '2', 'System Object'),
      role: coding(AUDIT_CODES.objectRole, '24', 'Query'),
      description: `${event.method} ${event.path || '[base]'}${event.query ? `?${event.query}` : ''}`,
    };
    if (event.query) query.query = Buffer.from(event.query, 'utf8').toString('base64');
    entities.push(query);
  }
  if (event.outcome.rule) entities.push(ruleEntity(event.outcome.rule));
  if (group.some((one) => one.truncated)) entities.push({ type: coding(AUDIT_CODES.entityType, '2', 'System Object'), description: 'more resources were returned than this record lists' });
  const resource: Json = {
    resourceType: 'AuditEvent',
    type: coding(AUDIT_CODES.eventType, 'rest', 'Restful Operation'),
    subtype,
    action: ACTIONS[event.interaction] ?? 'E',
  };
  if (aggregated) resource.period = { start: new Date(event.at).toISOString(), end: new Date(last.at).toISOString() };
  Object.assign(resource, {
    recorded: new Date(last.at).toISOString(),
    outcome: outcomeCode(event.outcome.status),
    outcomeDesc: aggregated ? `${group.length} requests: ${describeOutcome(event, true)}` : describeOutcome(event),
    agent: agents(event.caller, source),
    source: sourceOf(event.caller, source),
  });
  if (entities.length > 0) resource.entity = entities;
  return resource;
}

/**
 * What makes two FHIR interaction events one record: everything a record says but the resources and the time.
 * Reads, vreads and writes by id group across ids (the ids are the record's entities); anything else by path.
 * @param event - the event
 * @returns the key
 */
export function groupKey(event: RestEvent): string {
  const { caller, outcome } = event;
  return [
    caller.project, caller.clientId, caller.userId, caller.fhirUser, caller.patient, caller.role, caller.ip, caller.operator,
    event.interaction, event.method, event.resourceType, event.id === undefined ? event.path : '', event.query, event.bundleEntry,
    outcome.status, outcome.decision, outcome.refusedBy, outcome.rule, outcome.detail,
  ].join('\u0000');
}

function ruleEntity(rule: string): Json {
  const reference = /^(AccessPolicy\/[A-Za-z0-9\-.]{1,64})(?: (.*))?$/.exec(rule);
  const entity: Json = {
    type: coding(AUDIT_CODES.entityType, '2', 'System Object'),
    role: coding(AUDIT_CODES.objectRole, '13', 'Security Resource'),
    name: 'decided by',
    description: rule,
  };
  if (reference?.[1] && !rule.includes(',')) entity.what = { reference: reference[1] };
  return entity;
}

function describeOutcome(event: RestEvent, anyId = false): string {
  const { outcome } = event;
  const head = `${outcome.status} ${outcome.decision}${outcome.refusedBy ? ` by ${outcome.refusedBy}` : ''}`;
  const path = anyId && event.id !== undefined ? `${event.resourceType ?? ''}/…` : event.path || '[base]';
  const where = `${event.method} ${path}${event.bundleEntry ? ' (Bundle entry)' : ''}`;
  return `${head}: ${where}${outcome.detail ? ` — ${outcome.detail}` : ''}`;
}

function securityEvent(event: SecurityEvent, source: AuditSource): Json {
  const spec = SECURITY_EVENTS[event.name];
  const subtype = [coding(AUDIT_CODES.securityEvent, event.name, spec.display)];
  if (spec.dicom) subtype.push(spec.dicom);
  const entities: Json[] = [];
  if (event.caller.patient) entities.push(patientEntity(event.caller.patient));
  for (const e of event.entities ?? []) {
    const entity: Json = { type: coding(AUDIT_CODES.entityType, '2', 'System Object'), name: e.name };
    if (e.reference) entity.what = { reference: e.reference };
    if (e.value) entity.description = e.value;
    entities.push(entity);
  }
  if (event.grantType) entities.push({ type: coding(AUDIT_CODES.entityType, '2', 'System Object'), name: 'grant_type', description: event.grantType });
  if (event.outcome.rule) entities.push(ruleEntity(event.outcome.rule));
  const desc = [spec.display, event.error, event.outcome.detail].filter((part) => part !== undefined && part !== '').join(': ');
  const resource: Json = {
    resourceType: 'AuditEvent',
    type: spec.type === 'auth' ? coding(AUDIT_CODES.dicom, '110114', 'User Authentication') : coding(AUDIT_CODES.dicom, '110113', 'Security Alert'),
    subtype,
    action: spec.action,
    recorded: new Date(event.at).toISOString(),
    outcome: outcomeCode(event.outcome.status, event.name === 'refresh-token-reuse'),
    outcomeDesc: desc.slice(0, 1000),
    agent: agents(event.caller, source),
    source: sourceOf(event.caller, source),
  };
  if (entities.length > 0) resource.entity = entities;
  return resource;
}

/**
 * The AuditEvent of one decision event.
 * @param event - the event
 * @param source - the server
 * @returns the resource (without id and meta)
 */
export function toAuditEvent(event: DecisionEvent, source: AuditSource): Json & { resourceType: 'AuditEvent' } {
  return (event.kind === 'rest' ? restEvent([event], source) : securityEvent(event, source)) as Json & { resourceType: 'AuditEvent' };
}

/**
 * One AuditEvent for several FHIR interaction events of the same {@link groupKey} (the same caller, interaction
 * and outcome within one flush): `period` spans them, each resource entity says when it was requested.
 * @param group - the events, oldest first
 * @param source - the server
 * @returns the resource (without id and meta)
 */
export function toGroupedAuditEvent(group: readonly RestEvent[], source: AuditSource): Json & { resourceType: 'AuditEvent' } {
  return restEvent(group, source) as Json & { resourceType: 'AuditEvent' };
}
