/**
 * A scripted OpenID provider for the refusal tests: discovery, JWKS, token and UserInfo endpoints on a loopback
 * port, whose token endpoint answers exactly the id_token the test scripted for a code — signed with the published
 * key or with a key it never published, with any nonce, issuer or algorithm. It checks what a real provider checks
 * of the relying party (client_secret_basic, redirect_uri, PKCE S256), and records the token requests.
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, exportJWK, type JSONWebKeySet, type JWK, jwtVerify, SignJWT } from 'jose';

/** What the token endpoint answers for one code. */
export interface ScriptedCode {
  /** The code_challenge of the authorization request (checked against the code_verifier). */
  challenge: string;
  claims: Record<string, unknown>;
  /** `wrong`: signed with a key the JWKS does not contain. */
  key?: 'published' | 'wrong';
  alg?: 'RS256' | 'HS256';
  /** Claims served by UserInfo (default: none beyond sub). */
  userinfo?: Record<string, unknown>;
}

/** The running provider. */
export class ScriptedProvider {
  readonly clientId = 'fhir-server';
  readonly clientSecret = 'scripted-provider-client-secret';
  issuer = '';
  readonly tokenRequests: Array<Record<string, string>> = [];
  /** The relying party's public keys, for `private_key_jwt` (the JWKS it publishes). */
  clientJwks?: JSONWebKeySet;
  /** The verified client assertions' claims. */
  readonly assertions: Array<Record<string, unknown>> = [];
  private readonly codes = new Map<string, ScriptedCode>();
  private readonly access = new Map<string, Record<string, unknown>>();
  private readonly published = generateKeyPairSync('rsa', { modulusLength: 2048 });
  private readonly wrong = generateKeyPairSync('rsa', { modulusLength: 2048 });
  private readonly server = http.createServer((req, res) => void this.handle(req, res));

  /** Starts listening. */
  async start(): Promise<void> {
    this.server.listen(0, '127.0.0.1');
    await new Promise((resolve) => this.server.once('listening', resolve));
    this.issuer = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Stops listening. */
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  /**
   * Scripts a code.
   * @param script - what its token request answers
   * @returns the code
   */
  issue(script: ScriptedCode): string {
    const code = randomBytes(16).toString('base64url');
    this.codes.set(code, script);
    return code;
  }

  private send(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.issuer);
    if (url.pathname === '/.well-known/openid-configuration') {
      return this.send(res, 200, {
        issuer: this.issuer,
        authorization_endpoint: `${this.issuer}/authorize`,
        token_endpoint: `${this.issuer}/token`,
        jwks_uri: `${this.issuer}/jwks`,
        userinfo_endpoint: `${this.issuer}/userinfo`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
      });
    }
    if (url.pathname === '/jwks') {
      const jwk: JWK = { ...(await exportJWK(this.published.publicKey)), kid: 'published', alg: 'RS256', use: 'sig' };
      return this.send(res, 200, { keys: [jwk] });
    }
    if (url.pathname === '/userinfo') {
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      const claims = this.access.get(token);
      return claims ? this.send(res, 200, claims) : this.send(res, 401, { error: 'invalid_token' });
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      let body = '';
      for await (const chunk of req) body += String(chunk);
      const form = Object.fromEntries(new URLSearchParams(body));
      this.tokenRequests.push(form);
      if (form.client_assertion_type === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
        // private_key_jwt (RFC 7523): signed by the client's published key, iss = sub = client_id, aud = this server.
        try {
          const { payload } = await jwtVerify(form.client_assertion ?? '', createLocalJWKSet(this.clientJwks ?? { keys: [] }), {
            issuer: this.clientId,
            subject: this.clientId,
            audience: [this.issuer, `${this.issuer}/token`],
          });
          this.assertions.push(payload);
        } catch {
          return this.send(res, 401, { error: 'invalid_client' });
        }
        return this.answer(res, form);
      }
      // RFC 6749 §2.3.1: both parts form-urlencoded, then joined by a colon.
      const basic = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
      const [id = '', secret = ''] = basic.split(':').map((part) => decodeURIComponent(part.replace(/\+/g, ' ')));
      if (id !== this.clientId || secret !== this.clientSecret) return this.send(res, 401, { error: 'invalid_client' });
      return this.answer(res, form);
    }
    this.send(res, 404, { error: 'not_found' });
  }

  private async answer(res: http.ServerResponse, form: Record<string, string>): Promise<void> {
    const script = this.codes.get(form.code ?? '');
    this.codes.delete(form.code ?? '');
    if (!script) return this.send(res, 400, { error: 'invalid_grant' });
    const verifier = form.code_verifier ?? '';
    if (createHash('sha256').update(verifier).digest('base64url') !== script.challenge) return this.send(res, 400, { error: 'invalid_grant', error_description: 'PKCE' });
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = { iss: this.issuer, aud: this.clientId, iat: now, exp: now + 300, ...script.claims };
    const alg = script.alg ?? 'RS256';
    const key = alg === 'HS256' ? new TextEncoder().encode(this.clientSecret) : (script.key === 'wrong' ? this.wrong : this.published).privateKey;
    const idToken = await new SignJWT(claims).setProtectedHeader({ alg, kid: 'published', typ: 'JWT' }).sign(key);
    const accessToken = randomBytes(16).toString('base64url');
    this.access.set(accessToken, { sub: claims.sub, ...script.userinfo });
    return this.send(res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: 300, id_token: idToken });
  }
}
