/**
 * After the `peer-token` runs: do the tokens the server issued under load still work as tokens? A sample of them is
 * introspected (each must be active), some of those are revoked (each must then introspect inactive and be refused
 * by the FHIR API), and the others must still read.
 */
import { FHIR_BASE_PATH, FHIR_JSON } from './fixtures';
import { BASIC, pick } from './scenarios';

const OAUTH_PATH = '/w/default/default/api/v1/oauth';

/** What the check found. */
export interface TokenCheck {
  /** Tokens the server issued during the measured runs (200 answers with an `access_token`). */
  issued: number;
  /** Tokens introspected, drawn at random from the issued ones (the first and the last always among them). */
  introspected: number;
  /** Of those, how many introspected as `active: true`. */
  active: number;
  /** Tokens revoked (RFC 7009), a part of the introspected ones. */
  revoked: number;
  /** Of the revoked, how many then introspected as `active: false`. */
  inactiveAfterRevocation: number;
  /** Of the revoked, how many the FHIR API then refused with 401. */
  refusedAfterRevocation: number;
  /** Unrevoked sample tokens that still read a resource (200). */
  stillReading: number;
  /** Unrevoked sample tokens tried on a read. */
  readTried: number;
  /** True when every count above is what it must be. */
  ok: boolean;
}

async function form(url: string, body: Record<string, string>): Promise<{ status: number; text: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: BASIC, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(body).toString(),
  });
  return { status: res.status, text: await res.text() };
}

async function isActive(baseUrl: string, token: string): Promise<boolean> {
  const { status, text } = await form(`${baseUrl}${OAUTH_PATH}/introspect`, { token, token_type_hint: 'access_token' });
  if (status !== 200) throw new Error(`introspection answered ${status}: ${text.slice(0, 300)}`);
  return (JSON.parse(text) as { active?: unknown }).active === true;
}

async function readStatus(baseUrl: string, token: string, patientId: string): Promise<number> {
  const res = await fetch(`${baseUrl}${FHIR_BASE_PATH}/Patient/${patientId}`, { headers: { authorization: `Bearer ${token}`, accept: FHIR_JSON } });
  await res.arrayBuffer();
  return res.status;
}

/**
 * Checks a sample of issued tokens on the server.
 *
 * @param baseUrl - the server's base URL
 * @param issued - every access token the server issued during the runs
 * @param patientIds - Patients that exist on the server (for the reads)
 * @param sample - how many tokens to introspect
 * @param revoke - how many of them to revoke
 * @returns the counts
 */
export async function checkIssuedTokens(baseUrl: string, issued: readonly string[], patientIds: readonly string[], sample = 200, revoke = 20): Promise<TokenCheck> {
  const chosen = new Set<string>();
  if (issued.length > 0) {
    chosen.add(issued[0] as string);
    chosen.add(issued[issued.length - 1] as string);
  }
  while (chosen.size < Math.min(sample, issued.length)) chosen.add(pick(issued));
  const tokens = [...chosen];
  let active = 0;
  for (const token of tokens) if (await isActive(baseUrl, token)) active++;

  const revoked = tokens.slice(0, Math.min(revoke, tokens.length));
  for (const token of revoked) {
    const { status, text } = await form(`${baseUrl}${OAUTH_PATH}/revoke`, { token });
    if (status !== 200) throw new Error(`revocation answered ${status}: ${text.slice(0, 300)}`);
  }
  let inactiveAfterRevocation = 0;
  let refusedAfterRevocation = 0;
  for (const token of revoked) {
    if (!(await isActive(baseUrl, token))) inactiveAfterRevocation++;
    if ((await readStatus(baseUrl, token, pick(patientIds))) === 401) refusedAfterRevocation++;
  }
  const kept = tokens.slice(revoked.length, revoked.length + revoke);
  let stillReading = 0;
  for (const token of kept) if ((await readStatus(baseUrl, token, pick(patientIds))) === 200) stillReading++;

  return {
    issued: issued.length,
    introspected: tokens.length,
    active,
    revoked: revoked.length,
    inactiveAfterRevocation,
    refusedAfterRevocation,
    stillReading,
    readTried: kept.length,
    ok:
      tokens.length > 0 &&
      active === tokens.length &&
      inactiveAfterRevocation === revoked.length &&
      refusedAfterRevocation === revoked.length &&
      stillReading === kept.length,
  };
}
