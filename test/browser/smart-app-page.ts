/**
 * A minimal browser SMART app, served by the browser test on its own origin. One page handles three paths:
 * - `/standalone?iss=...` — standalone launch (`launch/patient`);
 * - `/launch?iss=...&launch=...` — EHR launch (scope `launch`);
 * - `/callback?code=...&state=...` — exchanges the code at the token endpoint (cross-origin fetch), reads
 *   `Patient/{patient}` and `Observation?patient={patient}` with the token, and writes the results into
 *   `#result` as JSON (or `#error`).
 * Both launches read `{iss}/.well-known/smart-configuration` and compute the PKCE S256 challenge with
 * crypto.subtle; the verifier and endpoints wait in sessionStorage.
 */

const SCRIPT = String.raw`
const out = (id, value) => { document.getElementById(id).textContent = typeof value === 'string' ? value : JSON.stringify(value); };
const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
async function start(params, scope, launch) {
  const iss = params.get('iss');
  const config = await (await fetch(iss + '/.well-known/smart-configuration')).json();
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem('smart', JSON.stringify({ iss, verifier, state, token: config.token_endpoint }));
  const query = new URLSearchParams({ response_type: 'code', client_id: CLIENT_ID, redirect_uri: location.origin + '/callback', scope, state,
    aud: iss, code_challenge: challenge, code_challenge_method: 'S256' });
  if (launch) query.set('launch', launch);
  location.assign(config.authorization_endpoint + '?' + query);
}
async function callback(params) {
  const saved = JSON.parse(sessionStorage.getItem('smart'));
  if (params.get('state') !== saved.state) throw new Error('state mismatch');
  if (params.get('error')) throw new Error(params.get('error') + ': ' + params.get('error_description'));
  const body = new URLSearchParams({ grant_type: 'authorization_code', code: params.get('code'), redirect_uri: location.origin + '/callback',
    code_verifier: saved.verifier, client_id: CLIENT_ID });
  const tokenResponse = await fetch(saved.token, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body });
  const tokens = await tokenResponse.json();
  if (!tokenResponse.ok) throw new Error('token: ' + JSON.stringify(tokens));
  const get = async (path) => {
    const res = await fetch(saved.iss + '/' + path, { headers: { Authorization: 'Bearer ' + tokens.access_token, Accept: 'application/fhir+json' } });
    return { status: res.status, body: await res.json() };
  };
  const patient = await get('Patient/' + encodeURIComponent(tokens.patient));
  const observations = await get('Observation?patient=' + encodeURIComponent(tokens.patient));
  out('result', {
    patient: tokens.patient,
    scope: tokens.scope,
    patientStatus: patient.status,
    family: patient.body.name && patient.body.name[0].family,
    observationStatus: observations.status,
    observations: (observations.body.entry || []).map((e) => e.resource.id).sort(),
  });
}
const params = new URLSearchParams(location.search);
const run = location.pathname === '/callback' ? callback(params)
  : location.pathname === '/launch' ? start(params, 'launch openid fhirUser patient/*.rs', params.get('launch'))
  : start(params, 'launch/patient openid fhirUser patient/*.rs');
run.catch((err) => out('error', String(err && err.message || err)));
`;

/**
 * The app's page (the same for every path).
 * @param clientId - the app's client_id
 * @returns the HTML
 */
export function smartAppPage(clientId: string): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Test SMART app</title></head>
<body><h1>Test SMART app</h1><pre id="result"></pre><pre id="error"></pre>
<script>const CLIENT_ID = ${JSON.stringify(clientId)};${SCRIPT}</script></body></html>`;
}
