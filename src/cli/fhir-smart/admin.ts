/**
 * Administration commands over the FHIR API: `project create|list|use` (the `Project` resource of the system
 * project), `client register`, `user add|invite`, `policy evaluate` ($evaluate-policy, the trace as a tree).
 */
import { randomBytes } from 'node:crypto';
import { checkSlug, type Connection, ensureOk, fhirBase, type Target } from './connection';
import { CliError, EXIT_HTTP, usageError } from './errors';
import { readData, readStdin } from './input';
import { note, printJson, println, stdoutIsTty } from './output';
import { type ProfileStore, projectKey } from './profiles';

type Json = Record<string, unknown>;

function splitProject(value: string): { tenant: string; name: string } {
  const [tenant, name, ...rest] = value.split('/');
  if (tenant === undefined || name === undefined || rest.length > 0) throw usageError(`expected <tenant>/<project>, got '${value}'`);
  return { tenant: checkSlug(tenant, 'tenant'), name: checkSlug(name, 'project') };
}

/** The FHIR base of the system project (where `Project` resources live), on the connection's server. */
function systemBase(connection: Connection, system: string | undefined): string {
  const { tenant, name } = splitProject(system ?? 'default/default');
  return fhirBase({ server: connection.target.server, tenant, project: name });
}

/** `project create <tenant>/<name>`. */
export async function projectCreate(connection: Connection, value: string, options: { title?: string; seed?: string; owner?: string; system?: string }): Promise<void> {
  const { tenant, name } = splitProject(value);
  const resource: Json = { resourceType: 'Project', tenant, name, status: 'active' };
  if (options.title) resource.title = options.title;
  if (options.seed) resource.seed = options.seed;
  if (options.owner) resource.owner = { reference: options.owner.includes('/') ? options.owner : `User/${options.owner}` };
  const result = await connection.fhir('POST', `${systemBase(connection, options.system)}/Project`, { body: resource, headers: { Prefer: 'return=representation' } });
  printJson(result.body);
  note(`Created project ${tenant}/${name}: ${fhirBase({ server: connection.target.server, tenant, project: name })}`);
}

/** `project list`. */
export async function projectList(connection: Connection, options: { system?: string; tenant?: string; json?: boolean }): Promise<void> {
  const query = new URLSearchParams({ _count: '1000' });
  if (options.tenant) query.set('tenant', options.tenant);
  const bundle = (await connection.fhir('GET', `${systemBase(connection, options.system)}/Project?${query.toString()}`)).body as { entry?: Array<{ resource?: Json }> };
  const key = (p: Json): string => `${String(p.tenant)}/${String(p.name)}`;
  const projects = (bundle.entry ?? [])
    .map((e) => e.resource)
    .filter((r): r is Json => r !== undefined)
    .sort((a, b) => key(a).localeCompare(key(b)));
  if (options.json || !stdoutIsTty()) {
    for (const p of projects) println(JSON.stringify(p));
    return;
  }
  for (const p of projects) println(`${String(p.tenant)}/${String(p.name)}\t${String(p.status ?? '')}\t${String(p.title ?? '')}`);
}

/** `project use <tenant>/<name>`: the profile's project from now on (its session there, if any, is reused). */
export function projectUse(target: Target, store: ProfileStore, value: string): void {
  const { tenant, name } = splitProject(value);
  if (!target.profile) throw usageError(`no profile '${target.profileName}': log in first`);
  store.update((file) => {
    const profile = file.profiles[target.profileName];
    if (!profile) return;
    profile.tenant = tenant;
    profile.project = name;
  });
  const loggedIn = target.profile.sessions[projectKey(tenant, name)] !== undefined;
  note(`Profile '${target.profileName}' now uses ${tenant}/${name}${loggedIn ? '' : ': not logged in there yet, run fhir-smart login'}`);
}

/** Options of `client register`. */
export interface ClientRegisterOptions {
  id?: string;
  grant?: string[];
  redirectUri?: string[];
  scope?: string;
  public?: boolean;
  policy?: string;
  description?: string;
}

/** `client register <name>`: creates a ClientApplication; prints the generated secret once. */
export async function clientRegister(connection: Connection, name: string, options: ClientRegisterOptions): Promise<void> {
  const grants = options.grant && options.grant.length > 0 ? options.grant : options.redirectUri?.length ? ['authorization_code', 'refresh_token'] : ['client_credentials'];
  const client: Json = { resourceType: 'ClientApplication', name, status: 'active', grantType: grants };
  if (options.description) client.description = options.description;
  if (options.redirectUri?.length) client.redirectUri = options.redirectUri;
  if (options.public) client.tokenEndpointAuthMethod = 'none';
  else client.tokenEndpointAuthMethod = 'client_secret_basic';
  if (options.scope) client.scope = options.scope;
  if (options.public && grants.includes('client_credentials')) throw usageError('a --public client cannot use client_credentials');
  let result;
  if (options.id) {
    client.id = options.id;
    // PUT creates with the chosen id (a confidential client's secret is generated then too); an existing client is
    // not replaced.
    const existing = await connection.request('GET', `ClientApplication/${options.id}`);
    if (existing.status === 200) throw new CliError(`HTTP 409: ClientApplication/${options.id} already exists`, EXIT_HTTP);
    result = await connection.fhir('PUT', `ClientApplication/${options.id}`, { body: client, headers: { Prefer: 'return=representation' } });
  } else {
    result = await connection.fhir('POST', 'ClientApplication', { body: client, headers: { Prefer: 'return=representation' } });
  }
  const created = result.body as Json;
  const secret = created.secret as string | undefined;
  if (options.policy) await addPolicyTarget(connection, options.policy, `ClientApplication/${String(created.id)}`);
  const { secret: _omitted, ...shown } = created;
  printJson(secret ? { ...shown, secret } : shown);
  if (secret) note(`Save the client secret printed above ("secret") now: it is stored hashed and cannot be shown again.`);
  if (!options.policy) note(`No AccessPolicy names ClientApplication/${String(created.id)} yet: it may do nothing until one does (--policy <id>).`);
}

/** Adds a target to an AccessPolicy (read, append, conditional update on its version). */
async function addPolicyTarget(connection: Connection, policyId: string, reference: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const current = await connection.fhir('GET', `AccessPolicy/${encodeURIComponent(policyId)}`);
    const policy = current.body as Json & { target?: Array<{ link?: { reference?: string } }>; meta?: { versionId?: string } };
    const targets = policy.target ?? [];
    if (targets.some((t) => t.link?.reference === reference)) return;
    policy.target = [...targets, { link: { reference } }];
    const result = await connection.request('PUT', `AccessPolicy/${encodeURIComponent(policyId)}`, {
      body: policy,
      headers: policy.meta?.versionId ? { 'If-Match': `W/"${policy.meta.versionId}"` } : {},
    });
    if (result.status === 412) continue;
    ensureOk(result);
    note(`AccessPolicy/${policyId} now applies to ${reference}`);
    return;
  }
  throw new CliError(`AccessPolicy/${policyId} kept changing; try again`, EXIT_HTTP);
}

/** Options of `user add|invite`. */
export interface UserOptions {
  name?: string;
  role?: string;
  password?: string;
  passwordStdin?: boolean;
  policy?: string;
  link?: string;
}

/**
 * `user add <email>` (a password given) and `user invite <email>` (a one-time password generated and printed once):
 * a User and its Membership in one transaction, optionally named by an AccessPolicy.
 */
export async function userCreate(connection: Connection, email: string, options: UserOptions, invite: boolean): Promise<void> {
  if (!/^[^@\s]+@[^@\s]+$/.test(email)) throw usageError(`'${email}' is not an email address`);
  const role = options.role ?? 'member';
  if (!['owner', 'admin', 'member'].includes(role)) throw usageError(`--role must be owner, admin or member, got '${role}'`);
  let password = options.password;
  if (options.passwordStdin) password = (await readStdin()).replace(/\r?\n$/, '');
  if (invite) {
    if (password !== undefined) throw usageError('user invite generates the password; use user add to choose one');
    password = randomBytes(12).toString('base64url');
  } else if (password === undefined) {
    throw usageError('user add needs --password or --password-stdin (user invite generates one)');
  }
  if (options.link && !/^(Patient|Practitioner|RelatedPerson|Person)\/[A-Za-z0-9\-.]{1,64}$/.test(options.link)) {
    throw usageError(`--link must be Patient/<id>, Practitioner/<id>, RelatedPerson/<id> or Person/<id>, got '${options.link}'`);
  }
  const user: Json = { resourceType: 'User', email, role, active: true, password };
  if (options.name) user.name = { text: options.name };
  const membership: Json = { resourceType: 'Membership', user: { reference: 'urn:uuid:b7c0a1e2-0d4e-4c59-9a43-5f0d2b1e7a10' }, active: true };
  if (options.link) membership.link = { reference: options.link };
  const bundle = {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      { fullUrl: 'urn:uuid:b7c0a1e2-0d4e-4c59-9a43-5f0d2b1e7a10', resource: user, request: { method: 'POST', url: 'User' } },
      { resource: membership, request: { method: 'POST', url: 'Membership' } },
    ],
  };
  const result = (await connection.fhir('POST', '', { body: bundle })).body as { entry?: Array<{ response?: { location?: string } }> };
  const [userLocation, membershipLocation] = (result.entry ?? []).map((e) => (e.response?.location ?? '').replace(/\/_history\/.*$/, '').replace(/^.*\/(\w+\/[^/]+)$/, '$1'));
  if (options.policy && membershipLocation) await addPolicyTarget(connection, options.policy, membershipLocation);
  printJson({ user: userLocation, membership: membershipLocation, email, role, ...(invite ? { password } : {}) });
  if (invite) note(`Send the one-time password printed above ("password") to ${email} over a trusted channel: it is stored hashed and cannot be shown again.`);
}

/** Options of `policy evaluate`. */
export interface EvaluateOptions {
  principal: string;
  method?: string;
  url: string;
  scope?: string;
  client?: string;
  data?: string;
  json?: boolean;
}

interface TraceLine {
  policy: string;
  rule?: string;
  name?: string;
  result: string;
  detail?: string;
}

function part(parts: Array<Json>, name: string): string | undefined {
  const p = parts.find((x) => x.name === name);
  if (!p) return undefined;
  const ref = (p.valueReference as { reference?: string } | undefined)?.reference;
  return ref ?? (p.valueCode as string | undefined) ?? (p.valueString as string | undefined);
}

/**
 * Renders a `$evaluate-policy` trace as a tree: each policy, its rules nested by their paths
 * (`AccessPolicy.rule[0].rule[1]` under `AccessPolicy.rule[0]`).
 * @param traces - the trace parameters
 * @returns the lines
 */
export function renderTrace(traces: TraceLine[]): string[] {
  const lines: string[] = [];
  const policies = [...new Set(traces.map((t) => t.policy))];
  for (const [pi, policy] of policies.entries()) {
    const lastPolicy = pi === policies.length - 1;
    const head = traces.find((t) => t.policy === policy && t.rule === undefined);
    lines.push(`${lastPolicy ? '└─' : '├─'} ${policy}: ${head?.result ?? ''}${head?.detail ? ` (${head.detail})` : ''}`);
    const rules = traces.filter((t) => t.policy === policy && t.rule !== undefined);
    const depth = (rule: string): number => (rule.match(/\.rule\[\d+\]/g) ?? []).length;
    const parentOf = (rule: string): string | undefined => {
      const cut = rule.replace(/\.rule\[\d+\]$/, '');
      return cut === rule || !cut.includes('.rule[') ? undefined : cut;
    };
    const render = (parent: string | undefined, prefix: string): void => {
      const children = rules.filter((r) => parentOf(r.rule as string) === parent && (parent !== undefined || depth(r.rule as string) === 1));
      for (const [ci, child] of children.entries()) {
        const last = ci === children.length - 1;
        const label = `${(child.rule as string).replace(/^AccessPolicy\./, '')}${child.name ? ` "${child.name}"` : ''}: ${child.result}${child.detail ? ` (${child.detail})` : ''}`;
        lines.push(`${prefix}${last ? '└─' : '├─'} ${label}`);
        render(child.rule, `${prefix}${last ? '   ' : '│  '}`);
      }
    };
    render(undefined, lastPolicy ? '   ' : '│  ');
  }
  return lines;
}

/** `policy evaluate`. */
export async function policyEvaluate(connection: Connection, options: EvaluateOptions): Promise<void> {
  const parameter: Json[] = [
    { name: 'principal', valueReference: { reference: options.principal } },
    { name: 'method', valueCode: (options.method ?? 'GET').toUpperCase() },
    { name: 'url', valueString: options.url },
  ];
  if (options.scope) parameter.push({ name: 'scope', valueString: options.scope });
  if (options.client) parameter.push({ name: 'client', valueReference: { reference: options.client.includes('/') ? options.client : `ClientApplication/${options.client}` } });
  if (options.data !== undefined) {
    const body = await readData(options.data);
    if (Array.isArray(body)) parameter.push({ name: 'body', valueString: JSON.stringify(body) });
    else parameter.push({ name: 'resource', resource: body });
  }
  const result = (await connection.fhir('POST', '$evaluate-policy', { body: { resourceType: 'Parameters', parameter } })).body as { parameter?: Json[] };
  if (options.json) {
    printJson(result);
    return;
  }
  const params = result.parameter ?? [];
  const value = (name: string): string | undefined => part(params, name);
  println(`${String(value('decision')).toUpperCase()}: ${value('reason') ?? ''}`);
  if (value('interaction')) println(`interaction: ${String(value('interaction'))}${value('search') ? `, search: ${String(value('search'))}` : ''}`);
  if (value('searchReason')) println(`search reason: ${String(value('searchReason'))}`);
  const traces = params
    .filter((p) => p.name === 'trace')
    .map((p) => {
      const parts = (p.part as Json[] | undefined) ?? [];
      return { policy: part(parts, 'policy') ?? '(no policy)', rule: part(parts, 'rule'), name: part(parts, 'name'), result: part(parts, 'result') ?? '?', detail: part(parts, 'detail') };
    });
  if (traces.length > 0) {
    println('trace:');
    for (const line of renderTrace(traces)) println(line);
  }
}
