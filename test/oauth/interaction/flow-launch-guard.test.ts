/**
 * The last guard of a standalone launch: `redirectWithCode` never issues a code for a request granted
 * `launch/patient` without a patient (the user's Membership links none and no patient was picked), whatever
 * route led there; a picked patient or a linked one is carried into the code.
 */
import type { Response } from 'express';
import type { InteractionContext } from '../../../src/oauth/interaction/context';
import { redirectWithCode } from '../../../src/oauth/interaction/flow';
import type { AuthorizationRequest } from '../../../src/oauth/interaction/interaction-store';
import { pkce, setupOAuth, type OAuthFixture } from '../oauth-fixtures';

let fx: OAuthFixture;
beforeAll(async () => {
  fx = await setupOAuth();
});
afterAll(async () => {
  await fx.t.close();
});

function context(): InteractionContext {
  const basePath = '/w/default/default/api/v1/oauth';
  return { deps: fx.deps, project: { key: 'default/default', issuer: fx.issuer }, basePath, cookies: { path: basePath, secure: false }, pageUrl: (page) => `${basePath}/${page}` };
}

/** Runs redirectWithCode and returns the query of the redirect it sent. */
async function redirectFor(request: AuthorizationRequest, user: { userId: string; membershipId: string }): Promise<Record<string, string>> {
  let location = '';
  const res = { setHeader: () => res, redirect: (_status: number, url: string) => { location = url; } } as unknown as Response;
  await redirectWithCode(context(), res, request, { ...user, email: 'x@example.com', authTime: Math.floor(Date.now() / 1000) });
  return Object.fromEntries(new URL(location).searchParams);
}

const request = (extra: Partial<AuthorizationRequest> = {}): AuthorizationRequest => ({
  clientId: 'public-app', redirectUri: 'https://app.example/callback', redirectUriGiven: true, state: 's', scope: ['launch/patient', 'openid', 'patient/*.rs'],
  codeChallenge: pkce().challenge, prompt: [], ...extra,
});

describe('redirectWithCode and launch/patient', () => {
  it('redirects with access_denied, and no code, when no patient was picked and none is linked', async () => {
    const admin = { userId: fx.adminId, membershipId: fx.adminMembershipId };
    expect(await redirectFor(request(), admin)).toEqual({
      error: 'access_denied', error_description: 'No patient was selected for the launch/patient scope', state: 's', iss: fx.issuer,
    });
  });

  it('issues the code with a picked patient, or with the patient the Membership links', async () => {
    const admin = { userId: fx.adminId, membershipId: fx.adminMembershipId };
    expect(await redirectFor(request({ launch: { source: 'standalone', patient: 'p-picked' } }), admin)).toMatchObject({ code: expect.any(String) });
    const member = { userId: fx.memberId, membershipId: fx.memberMembershipId };
    expect(await redirectFor(request(), member)).toMatchObject({ code: expect.any(String) });
  });
});
