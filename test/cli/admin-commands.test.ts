/**
 * `fhir-smart client register`, `user add|invite`, `policy evaluate` and `keys list|rotate` against the real server,
 * logged in with client_credentials (the bootstrap admin client), and their failures with exit codes.
 */
import { decodeProtectedHeader } from 'jose';
import { Browser, scrapeForm } from '../oauth/authorize-helpers';
import { cliUser, succeeded, adminSession } from './cli-helpers';

const session = adminSession();

function json(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe('client register', () => {
  it('registers a confidential client, prints its secret once with a warning, and the secret works', async () => {
    const run = succeeded(await session.admin.run(['client', 'register', 'Nightly export', '--scope', 'system/*.rs', '--policy', 'admin-full-access']));
    const client = json(run.stdout);
    expect(client).toMatchObject({ resourceType: 'ClientApplication', name: 'Nightly export', grantType: ['client_credentials'], tokenEndpointAuthMethod: 'client_secret_basic' });
    const secret = client.secret as string;
    expect(secret).toMatch(/^[\w-]{20,}$/);
    // The secret is in the result only (stdout), never in the messages (stderr often ends up in logs).
    expect(run.stderr).not.toContain(secret);
    expect(run.stderr).toMatch(/Save the client secret printed above \("secret"\) now: it is stored hashed and cannot be shown again/);
    expect(run.stderr).toMatch(/AccessPolicy\/admin-full-access now applies to ClientApplication\//);

    const stored = succeeded(await session.admin.run(['api', 'read', 'r4', 'ClientApplication', String(client.id)]));
    expect(json(stored.stdout).secret).toBeUndefined();
    const other = cliUser({ FHIR_SMART_SERVER: session.server.base });
    try {
      succeeded(await other.run(['login', '--client-credentials', '--client-id', String(client.id), '--client-secret', secret]));
      const read = succeeded(await other.run(['api', 'read', 'r4', 'Patient', 'patient-ada']));
      expect(json(read.stdout).id).toBe('patient-ada');
    } finally {
      other.remove();
    }
  }, 120_000);

  it('registers a public client with redirect URIs and a chosen id; refuses a taken id (1) and bad combinations (2)', async () => {
    const run = succeeded(await session.admin.run(['client', 'register', 'My app', '--id', 'my-app', '--public', '--redirect-uri', 'https://app.example/cb', '--scope', 'openid user/*.rs']));
    expect(json(run.stdout)).toMatchObject({ id: 'my-app', tokenEndpointAuthMethod: 'none', grantType: ['authorization_code', 'refresh_token'], redirectUri: ['https://app.example/cb'] });
    expect(json(run.stdout).secret).toBeUndefined();
    expect(run.stderr).not.toMatch(/secret/i);
    expect(run.stdout).not.toMatch(/"secret"/);
    expect(run.stderr).toMatch(/No AccessPolicy names ClientApplication\/my-app yet/);

    const taken = await session.admin.run(['client', 'register', 'Again', '--id', 'my-app']);
    expect(taken).toMatchObject({ code: 1, stdout: '' });
    expect(taken.stderr).toMatch(/HTTP 409: ClientApplication\/my-app already exists/);
    const invalid = await session.admin.run(['client', 'register', 'Bad', '--redirect-uri', 'not a uri']);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^fhir-smart: HTTP 400: /);
    const publicCc = await session.admin.run(['client', 'register', 'Bad', '--public', '--grant', 'client_credentials']);
    expect(publicCc.code).toBe(2);
    expect(publicCc.stderr).toMatch(/a --public client cannot use client_credentials/);
    expect((await session.admin.run(['client', 'register'])).code).toBe(2);
  }, 120_000);
});

describe('user add and invite', () => {
  it('adds a user with a Membership, linked and named by a policy; the password is never printed', async () => {
    const run = succeeded(
      await session.admin.run(['user', 'add', 'nurse@example.org', '--name', 'Nina Nurse', '--link', 'Practitioner/practitioner-grace', '--policy', 'admin-full-access', '--password-stdin'], {
        input: 'nurse password 12345\n',
      }),
    );
    const out = json(run.stdout);
    expect(out).toEqual({ user: expect.stringMatching(/^User\//), membership: expect.stringMatching(/^Membership\//), email: 'nurse@example.org', role: 'member' });
    expect(run.stdout + run.stderr).not.toContain('nurse password');
    const user = json(succeeded(await session.admin.run(['api', 'read', 'r4', 'User', String(out.user).slice(5)])).stdout);
    expect(user).toMatchObject({ email: 'nurse@example.org', role: 'member', active: true, name: { text: 'Nina Nurse' } });
    expect(user.password).toBeUndefined();
    const membership = json(succeeded(await session.admin.run(['api', 'read', 'r4', 'Membership', String(out.membership).slice(11)])).stdout);
    expect(membership).toMatchObject({ user: { reference: out.user }, link: { reference: 'Practitioner/practitioner-grace' }, active: true });
    const policy = json(succeeded(await session.admin.run(['api', 'read', 'r4', 'AccessPolicy', 'admin-full-access'])).stdout) as { target: Array<{ link: { reference: string } }> };
    expect(policy.target.map((t) => t.link.reference)).toContain(out.membership);

    const duplicate = await session.admin.run(['user', 'add', 'NURSE@example.org', '--password', 'another password 1']);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toMatch(/HTTP 409: .*email/);
  }, 120_000);

  it('invites a user with a one-time password printed once, which signs in', async () => {
    const run = succeeded(await session.admin.run(['user', 'invite', 'doc@example.org', '--role', 'admin']));
    const out = json(run.stdout);
    expect(out).toMatchObject({ email: 'doc@example.org', role: 'admin', password: expect.stringMatching(/^[\w-]{16}$/) });
    expect(run.stderr).not.toContain(String(out.password));
    expect(run.stderr).toMatch(/Send the one-time password printed above \("password"\) to doc@example\.org over a trusted channel/);
    // The sign-in page accepts it: the browser goes on to the consent page, not back to the form.
    const browser = new Browser(session.server.t.app);
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: 'fhir-smart-cli',
      redirect_uri: 'http://127.0.0.1:5555/cb',
      scope: 'openid user/*.rs',
      aud: session.server.fhir,
      state: 's',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    });
    const first = await browser.get(`/w/default/default/api/v1/oauth/authorize?${query.toString()}`);
    const page = first.status === 303 ? await browser.follow(first) : first;
    const { action, fields } = scrapeForm(page.text);
    const signedIn = await browser.post(action, { ...fields, email: 'doc@example.org', password: String(out.password) });
    expect(signedIn.status).toBe(303);
    expect(String(signedIn.headers.location)).toMatch(/consent/);
  }, 120_000);

  it('refuses bad input with exit code 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['user', 'add', 'x@example.org'], /needs --password or --password-stdin/],
      [['user', 'add', 'not-an-email', '--password', 'p'], /is not an email address/],
      [['user', 'add', 'y@example.org', '--password', 'pw-123456789', '--role', 'root'], /--role must be owner, admin or member/],
      [['user', 'invite', 'z@example.org', '--link', 'Observation/x'], /--link must be Patient\/<id>/],
      [['user', 'invite', 'z@example.org', '--password', 'x'], /unknown option '--password'/],
    ];
    for (const [args, message] of cases) {
      const run = await session.admin.run(args);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
      expect(run.stderr).toMatch(message);
    }
  }, 120_000);
});

describe('policy evaluate', () => {
  it('explains a decision with the trace as a tree', async () => {
    const added = json(succeeded(await session.admin.run(['user', 'add', 'ward@example.org', '--password', 'ward password 123'])).stdout);
    const policy = {
      resourceType: 'AccessPolicy',
      id: 'ward',
      name: 'Ward staff',
      engine: 'rule-engine',
      target: [{ link: { reference: added.membership } }],
      rule: [
        {
          name: 'clinical reads',
          target: { expression: "%request.interaction = 'read'" },
          rule: [
            { name: 'patients', target: { expression: "%request.resourceType = 'Patient'" } },
            { name: 'no restricted', effect: 'deny', target: { expression: "%resource.meta.security.where(code = 'R').exists()" } },
          ],
        },
        { name: 'never delete', effect: 'deny', target: { expression: "%request.interaction = 'delete'" } },
      ],
    };
    succeeded(await session.admin.run(['api', 'update', 'r4', 'AccessPolicy', 'ward', '--data', JSON.stringify(policy)]));
    const run = succeeded(await session.admin.run(['policy', 'evaluate', '--principal', String(added.membership), '--url', 'Patient/patient-ada']));
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^PERMIT: permitted by AccessPolicy\/ward AccessPolicy\.rule\[0\]/);
    expect(lines).toContain('interaction: read');
    expect(lines).toContain('trace:');
    const tree = lines.slice(lines.indexOf('trace:') + 1);
    expect(tree[0]).toMatch(/^└─ AccessPolicy\/ward: /);
    expect(tree).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^ {3}├─ rule\[0\] "clinical reads": permit/),
        expect.stringMatching(/^ {3}│ {2}├─ rule\[0\]\.rule\[0\] "patients": permit/),
        expect.stringMatching(/^ {3}│ {2}└─ rule\[0\]\.rule\[1\] "no restricted": not-applicable/),
        expect.stringMatching(/^ {3}└─ rule\[1\] "never delete": not-applicable/),
      ]),
    );
    const denied = succeeded(await session.admin.run(['policy', 'evaluate', '--principal', String(added.membership), '--method', 'DELETE', '--url', 'Patient/patient-ada']));
    expect(denied.stdout).toMatch(/^DENY: /);
    const raw = succeeded(await session.admin.run(['policy', 'evaluate', '--principal', String(added.membership), '--url', 'Patient/patient-ada', '--json']));
    expect(json(raw.stdout)).toMatchObject({ resourceType: 'Parameters' });

    const bad = await session.admin.run(['policy', 'evaluate', '--principal', 'Patient/patient-ada', '--url', 'Patient/patient-ada']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/HTTP 400: principal must be a valueReference to Membership\/<id> or ClientApplication\/<id>/);
    const missing = await session.admin.run(['policy', 'evaluate', '--url', 'Patient/x']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/required option '--principal <reference>'/);
  }, 120_000);
});

describe('keys', () => {
  it('lists and rotates the signing keys; a caller without full access is refused (1)', async () => {
    const listed = succeeded(await session.admin.run(['keys', 'list', '--json']));
    const before = (json(listed.stdout) as { keys: Array<{ kid: string; retiredAt?: string }> }).keys.filter((k) => !k.retiredAt);
    expect(before).toHaveLength(1);
    const rotated = succeeded(await session.admin.run(['keys', 'rotate']));
    const match = /^new signing key (\S+); retired (\S+) \(published until its tokens expire\)$/.exec(rotated.stdout.trim());
    expect(match?.[2]).toBe(before[0]?.kid);
    const text = succeeded(await session.admin.run(['keys', 'list'])).stdout;
    expect(text).toMatch(new RegExp(`^${before[0]?.kid}\\tRS256\\tcreated \\S+\\tretired \\S+, published until \\S+$`, 'm'));
    expect(text).toMatch(new RegExp(`^${match?.[1]}\\tRS256\\tcreated \\S+\\tactive$`, 'm'));
    const jwks = (await (await fetch(`${session.server.oauth}/jwks`)).json()) as { keys: Array<{ kid: string }> };
    expect(jwks.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([match?.[1], before[0]?.kid]));

    // A client no full-access policy names: refused.
    const registered = json(succeeded(await session.admin.run(['client', 'register', 'Limited', '--scope', 'system/*.*'])).stdout);
    const limited = cliUser({ FHIR_SMART_SERVER: session.server.base });
    try {
      succeeded(await limited.run(['login', '--client-credentials', '--client-id', String(registered.id), '--client-secret', String(registered.secret)]));
      const token = (limited.profiles().profiles.default?.sessions['default/default'] as { accessToken: string }).accessToken;
      expect(decodeProtectedHeader(token).kid).toBe(match?.[1]);
      for (const args of [['keys', 'list'], ['keys', 'rotate']]) {
        const run = await limited.run(args);
        expect(run).toMatchObject({ code: 1, stdout: '' });
        expect(run.stderr).toMatch(/HTTP 403: insufficient_scope: The signing keys are reserved to owners and administrators/);
      }
    } finally {
      limited.remove();
    }
  }, 120_000);
});
