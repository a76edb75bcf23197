/**
 * Benchmark scenarios and the data they need. Each target (baseline and server) gets the same preparation through
 * its HTTP API, and each scenario turns into autocannon options whose `setupRequest` picks a fresh id per request.
 */
import type autocannon from 'autocannon';
import { FHIR_BASE_PATH, FHIR_JSON, makePatient, makeTransaction, OBSERVATION_CODES } from './fixtures';

/** Versions each history Patient is given during preparation (one create, then updates). */
export const HISTORY_VERSIONS = 3;

/** Name of a scenario. */
export type ScenarioName =
  | 'read'
  | 'create'
  | 'update'
  | 'history'
  | 'search-token'
  | 'search-include'
  | 'transaction'
  | 'token-client-credentials'
  | 'bearer-read'
  | 'policy-read'
  | 'policy-search';

/** Scenarios in the order they run. */
export const SCENARIOS: readonly ScenarioName[] = [
  'read',
  // Right after `read`, against which its goal is set: same heap, same data.
  'policy-read',
  'bearer-read',
  'create',
  'update',
  'history',
  'search-token',
  'search-include',
  'transaction',
  'token-client-credentials',
  'policy-search',
];

/** Minimum server/baseline req/s ratio per scenario; scenarios without one only need zero errors. */
export const RATIO_GOALS: Partial<Record<ScenarioName, number>> = { read: 0.5, create: 0.25, 'search-token': 0.3, 'search-include': 0.3, 'bearer-read': 0.5 };

/**
 * Goals relative to another scenario on the server itself: `policy-read` (a client under a 3-rule rule-engine
 * policy) against `read` (the admin client under its full-access policy), same requests.
 */
export const RELATIVE_GOALS: Partial<Record<ScenarioName, { versus: ScenarioName; min: number }>> = { 'policy-read': { versus: 'read', min: 0.85 } };

/** The client the policy scenarios run as, and its rule-engine AccessPolicy (3 rules, judged per resource). */
export const POLICY_CLIENT = { id: 'bench-policy', secret: 'bench-policy-client-secret-0123456789' } as const;
const POLICY = {
  resourceType: 'AccessPolicy',
  id: POLICY_CLIENT.id,
  name: 'Bench: clinical reader',
  engine: 'rule-engine',
  target: [{ link: { reference: `ClientApplication/${POLICY_CLIENT.id}` } }],
  rule: [
    {
      name: 'read clinical data',
      target: { expression: "%request.interaction in ('read' | 'vread' | 'search-type') and %request.resourceType in ('Patient' | 'Observation')" },
    },
    { name: 'restricted', effect: 'deny', target: { expression: "%resource.meta.security.where(code = 'R').exists()" } },
    { name: 'write observations', target: { expression: "%request.interaction = 'create' and %request.resourceType = 'Observation'" } },
  ],
};

/** Entries per transaction Bundle in the `transaction` scenario. */
export const TRANSACTION_SIZE = 100;

/** Absolute goals: minimum server req/s, with what it means. */
export const THROUGHPUT_GOALS: Partial<Record<ScenarioName, { minReqPerSec: number; label: string }>> = {
  transaction: { minReqPerSec: 2000 / TRANSACTION_SIZE, label: `≥ 2,000 resources/s in ${TRANSACTION_SIZE}-entry transactions` },
  // The server is one Node process, so its req/s are per core.
  'token-client-credentials': { minReqPerSec: 800, label: '≥ 800 tokens/s per core' },
};

/** The admin client the harness authenticates with (the server is started with this secret). */
export const BENCH_CLIENT = { id: 'admin-cli', secret: 'bench-admin-client-secret-0123456789' } as const;
/** The token endpoint of the bench project. */
export const TOKEN_PATH = '/w/default/default/api/v1/oauth/token';
/** Distinct access tokens the `bearer-read` scenario spreads its requests over (one grant each). */
export const BEARER_TOKENS = 100;

/** Ids created on one target during preparation. */
export interface PreparedData {
  /** Patients read by `read` and overwritten by `update`. */
  ids: string[];
  /** Patients with exactly {@link HISTORY_VERSIONS} versions, read by `history`. */
  historyIds: string[];
  /** Observations created for the search scenarios. */
  observations: number;
  /** The access token every request carries. */
  token: string;
  /** {@link BEARER_TOKENS} tokens of separate grants, for `bearer-read`. */
  tokens: string[];
  /** The token of {@link POLICY_CLIENT} (on the baseline: the admin token). */
  policyToken: string;
}

/** Load settings shared by every scenario. */
export interface LoadSettings {
  connections: number;
  durationSeconds: number;
  pipelining: number;
}

export const HEADERS = { 'content-type': FHIR_JSON, accept: FHIR_JSON };
export const BASIC = `Basic ${Buffer.from(`${BENCH_CLIENT.id}:${BENCH_CLIENT.secret}`).toString('base64')}`;
export const TOKEN_BODY = 'grant_type=client_credentials';
let authorization = '';

/**
 * Obtains an access token with client_credentials from the target's token endpoint.
 *
 * @param baseUrl - the target's base URL
 * @returns the access token
 * @throws Error when the token endpoint does not answer 200 with a token
 */
export async function fetchToken(baseUrl: string, basic = BASIC): Promise<string> {
  const res = await fetch(`${baseUrl}${TOKEN_PATH}`, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: TOKEN_BODY,
  });
  const text = await res.text();
  const token = res.status === 200 ? (JSON.parse(text) as { access_token?: unknown }).access_token : undefined;
  if (typeof token !== 'string') throw new Error(`POST ${TOKEN_PATH} answered ${res.status}: ${text.slice(0, 500)}`);
  return token;
}
export const PATIENT_PATH = `${FHIR_BASE_PATH}/Patient`;
const LOCATION_ID = /\/Patient\/([^/]+)\/_history\/([^/]+)$/;
/** Whether the first version of a created resource must be `1` (this server and the baseline; Medplum uses UUIDs). */
let firstVersionIsOne = true;

async function createPatient(baseUrl: string, seq: number): Promise<string> {
  const res = await fetch(`${baseUrl}${PATIENT_PATH}`, {
    method: 'POST',
    headers: { ...HEADERS, authorization },
    body: JSON.stringify(makePatient(seq)),
  });
  const text = await res.text();
  const location = res.headers.get('location') ?? '';
  const [, id, version] = LOCATION_ID.exec(location) ?? [];
  if (res.status !== 201 || id === undefined || (firstVersionIsOne && version !== '1')) {
    throw new Error(
      `POST ${PATIENT_PATH} answered ${res.status} with Location "${location}" ` +
        `(expected 201 and .../Patient/{id}/_history/1): ${text.slice(0, 500)}`,
    );
  }
  return id;
}

async function updatePatient(baseUrl: string, id: string, seq: number): Promise<void> {
  const res = await fetch(`${baseUrl}${PATIENT_PATH}/${id}`, {
    method: 'PUT',
    headers: { ...HEADERS, authorization },
    body: JSON.stringify({ ...makePatient(seq), id }),
  });
  const text = await res.text();
  if (res.status !== 200) {
    throw new Error(`PUT ${PATIENT_PATH}/${id} answered ${res.status}: ${text.slice(0, 500)}`);
  }
}

async function putResource(baseUrl: string, resource: { resourceType: string; id: string }): Promise<void> {
  const url = `${baseUrl}${FHIR_BASE_PATH}/${resource.resourceType}/${resource.id}`;
  const res = await fetch(url, { method: 'PUT', headers: { ...HEADERS, authorization }, body: JSON.stringify(resource) });
  const text = await res.text();
  if (res.status !== 200 && res.status !== 201) throw new Error(`PUT ${url} answered ${res.status}: ${text.slice(0, 500)}`);
}

/**
 * Seconds the harness's access tokens live. Backend tokens default to 300 s, shorter than a full run, and the
 * tokens prepared once are used by every scenario; the harness's clients register a longer lifetime instead.
 */
const BENCH_TOKEN_LIFETIME = 3600;

/** Gives the admin client {@link BENCH_TOKEN_LIFETIME} through the FHIR API (its secret is written again). */
async function extendAdminTokenLifetime(baseUrl: string): Promise<void> {
  const url = `${baseUrl}${FHIR_BASE_PATH}/ClientApplication/${BENCH_CLIENT.id}`;
  const res = await fetch(url, { headers: { ...HEADERS, authorization } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${text.slice(0, 500)}`);
  const client = JSON.parse(text) as { resourceType: string; id: string };
  await putResource(baseUrl, { ...client, secret: BENCH_CLIENT.secret, accessTokenLifetime: BENCH_TOKEN_LIFETIME } as { resourceType: string; id: string });
}

/** Basic credentials of {@link POLICY_CLIENT}. */
export const POLICY_BASIC = `Basic ${Buffer.from(`${POLICY_CLIENT.id}:${POLICY_CLIENT.secret}`).toString('base64')}`;

/** Registers {@link POLICY_CLIENT} and its policy through the FHIR API and returns its token. */
async function policyClientToken(baseUrl: string): Promise<string> {
  await putResource(baseUrl, {
    resourceType: 'ClientApplication',
    id: POLICY_CLIENT.id,
    name: 'Bench policy client',
    status: 'active',
    grantType: ['client_credentials'],
    tokenEndpointAuthMethod: 'client_secret_basic',
    secret: POLICY_CLIENT.secret,
    scope: 'system/*.cruds',
    accessTokenLifetime: BENCH_TOKEN_LIFETIME,
  } as { resourceType: string; id: string });
  await putResource(baseUrl, POLICY);
  return fetchToken(baseUrl, POLICY_BASIC);
}

export async function inParallel(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

async function postTransaction(baseUrl: string, seq: number): Promise<void> {
  const res = await fetch(`${baseUrl}${FHIR_BASE_PATH}`, { method: 'POST', headers: { ...HEADERS, authorization }, body: JSON.stringify(makeTransaction(seq, TRANSACTION_SIZE)) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST ${FHIR_BASE_PATH} (transaction) answered ${res.status}: ${text.slice(0, 500)}`);
}

/**
 * Obtains the access tokens and creates the Patients the scenarios use, through the target's OAuth and FHIR APIs.
 *
 * @param baseUrl - the target's base URL
 * @param patients - how many Patients `read` and `update` pick from
 * @param historyPatients - how many Patients `history` picks from (each gets {@link HISTORY_VERSIONS} versions)
 * @param observations - how many Observations the search scenarios search over (posted as transactions)
 * @param withPolicyClient - the server (the baseline has no FHIR API): register the policy scenarios' client, and
 *   give the harness's clients tokens that outlive the run
 * @param withAuth - false for a peer without a token endpoint (Medplum's router): no tokens, and any first
 *   version id is accepted in `Location`
 * @returns the tokens and the created ids
 * @throws Error when an answer does not follow the contract (status, Location, token)
 */
export async function prepareData(baseUrl: string, patients: number, historyPatients: number, observations = 0, withPolicyClient = false, withAuth = true): Promise<PreparedData> {
  firstVersionIsOne = withAuth;
  let token = withAuth ? await fetchToken(baseUrl) : '';
  authorization = withAuth ? `Bearer ${token}` : '';
  if (withPolicyClient) {
    await extendAdminTokenLifetime(baseUrl);
    token = await fetchToken(baseUrl);
    authorization = `Bearer ${token}`;
  }
  const tokens: string[] = new Array<string>(withAuth ? BEARER_TOKENS : 0);
  await inParallel(tokens.length, 10, async (i) => {
    tokens[i] = await fetchToken(baseUrl);
  });
  const ids: string[] = new Array<string>(patients);
  const historyIds: string[] = new Array<string>(historyPatients);
  await inParallel(patients, 10, async (i) => {
    ids[i] = await createPatient(baseUrl, i);
  });
  await inParallel(historyPatients, 10, async (i) => {
    const id = await createPatient(baseUrl, patients + i);
    for (let v = 2; v <= HISTORY_VERSIONS; v++) await updatePatient(baseUrl, id, patients + i + v);
    historyIds[i] = id;
  });
  // Each transaction holds 20 Patients and 80 Observations; sequence numbers above 10^6 keep them apart from
  // the bundles the `transaction` scenario posts.
  const bundles = Math.ceil(observations / ((TRANSACTION_SIZE * 4) / 5));
  await inParallel(bundles, 4, async (i) => postTransaction(baseUrl, 1_000_000 + i));
  const policyToken = withPolicyClient ? await policyClientToken(baseUrl) : token;
  return { ids, historyIds, observations: (bundles * TRANSACTION_SIZE * 4) / 5, token, tokens, policyToken };
}

export function pick<T>(items: readonly T[]): T {
  const item = items[Math.floor(Math.random() * items.length)];
  if (item === undefined) throw new Error('cannot pick from an empty pool');
  return item;
}

function requestFor(scenario: ScenarioName, data: PreparedData): autocannon.Request {
  switch (scenario) {
    case 'read':
      return {
        method: 'GET',
        setupRequest: (req) => ({ ...req, path: `${PATIENT_PATH}/${pick(data.ids)}` }),
      };
    case 'create':
      return { method: 'POST', path: PATIENT_PATH, body: JSON.stringify(makePatient(0)) };
    case 'update': {
      // Bodies carry the id of their path and no meta, so the server applies them without If-Match checks.
      const bodies = data.ids.map((id, i) => ({ id, body: JSON.stringify({ ...makePatient(i + 1), id }) }));
      return {
        method: 'PUT',
        setupRequest: (req) => {
          const chosen = pick(bodies);
          return { ...req, path: `${PATIENT_PATH}/${chosen.id}`, body: chosen.body };
        },
      };
    }
    case 'history':
      return {
        method: 'GET',
        setupRequest: (req) => ({ ...req, path: `${PATIENT_PATH}/${pick(data.historyIds)}/_history` }),
      };
    case 'search-token':
      return {
        method: 'GET',
        setupRequest: (req) => ({ ...req, path: `${FHIR_BASE_PATH}/Observation?code=${encodeURIComponent(`http://loinc.org|${pick(OBSERVATION_CODES)}`)}&_count=20` }),
      };
    case 'search-include':
      return {
        method: 'GET',
        setupRequest: (req) => ({
          ...req,
          path: `${FHIR_BASE_PATH}/Observation?code=${encodeURIComponent(`http://loinc.org|${pick(OBSERVATION_CODES)}`)}&_count=20&_include=Observation:subject`,
        }),
      };
    case 'transaction': {
      let seq = 0;
      return {
        method: 'POST',
        setupRequest: (req) => ({ ...req, path: FHIR_BASE_PATH, body: JSON.stringify(makeTransaction(seq++, TRANSACTION_SIZE)) }),
      };
    }
    case 'token-client-credentials':
      return {
        method: 'POST',
        path: TOKEN_PATH,
        headers: { authorization: BASIC, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: TOKEN_BODY,
      };
    case 'policy-read': {
      const headers = { ...HEADERS, authorization: `Bearer ${data.policyToken}` };
      return { method: 'GET', setupRequest: (req) => ({ ...req, path: `${PATIENT_PATH}/${pick(data.ids)}`, headers }) };
    }
    case 'policy-search': {
      const headers = { ...HEADERS, authorization: `Bearer ${data.policyToken}` };
      return {
        method: 'GET',
        setupRequest: (req) => ({
          ...req,
          path: `${FHIR_BASE_PATH}/Observation?code=${encodeURIComponent(`http://loinc.org|${pick(OBSERVATION_CODES)}`)}&_count=20`,
          headers,
        }),
      };
    }
    case 'bearer-read': {
      const headers = data.tokens.map((t) => ({ ...HEADERS, authorization: `Bearer ${t}` }));
      return {
        method: 'GET',
        setupRequest: (req) => ({ ...req, path: `${PATIENT_PATH}/${pick(data.ids)}`, headers: pick(headers) }),
      };
    }
  }
}

/**
 * Builds the autocannon options for one scenario against one target.
 *
 * @param scenario - the scenario to run
 * @param baseUrl - the target's base URL
 * @param data - the ids prepared on that target
 * @param settings - connections, duration and pipelining
 * @returns options for `autocannon()`
 */
export function scenarioOptions(
  scenario: ScenarioName,
  baseUrl: string,
  data: PreparedData,
  settings: LoadSettings,
): autocannon.Options {
  return {
    url: baseUrl,
    title: scenario,
    connections: settings.connections,
    duration: settings.durationSeconds,
    pipelining: settings.pipelining,
    headers: { ...HEADERS, authorization: `Bearer ${data.token}` },
    requests: [requestFor(scenario, data)],
  };
}
