/**
 * A real upstream OpenID provider for the federated sign-in tests: panva's `oidc-provider` on a loopback port, with
 * its development sign-in pages (any login and password are accepted; the login is the account id). One
 * confidential client (client_secret_basic) whose redirect URI comes from the environment.
 *
 * Accounts: the login is an email address and the `sub`; `email_verified` is false for logins that start
 * with `unverified`, true otherwise. As the library does by default, scope claims (email, profile) are served by
 * UserInfo, not put in the id_token.
 *
 * Plain JavaScript: the package is ESM only. Started as a child process by the tests (`CLIENT_ID`,
 * `CLIENT_SECRET`, `REDIRECT_URI` from the environment); prints `listening on port N` once it listens.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: process.env.CLIENT_ID,
        client_secret: process.env.CLIENT_SECRET,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: [process.env.REDIRECT_URI],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'upstream-rs256', use: 'sig', alg: 'RS256' }] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'given_name', 'family_name'] },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        async claims() {
          const local = id.split('@')[0];
          return { sub: id, email: id, email_verified: !id.startsWith('unverified'), name: `Upstream ${local}`, given_name: 'Upstream', family_name: local };
        },
      };
    },
  });
  provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error', err));
  server.on('request', provider.callback());
  console.log(`listening on port ${port}`);
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
