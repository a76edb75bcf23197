/**
 * `GET {issuer}/api/v1/oauth/jwks` (RFC 7517 §5): the project's public signing keys — the active one (created on
 * first use) and retired ones until every token they signed has expired. Cacheable for 5 minutes, which is less
 * than a retired key stays published.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { OAuthDeps } from '../deps';
import type { KeyStore } from '../tokens/keys';
import { loadProject, oauthLocals } from './steps';

/**
 * Sends the key set.
 * @param keys - the key store
 * @returns the step
 */
function publishKeys(keys: KeyStore): RequestHandler {
  return async function publishKeysStep(_req: Request, res: Response): Promise<void> {
    const { project } = oauthLocals(res);
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.type('application/jwk-set+json').send(JSON.stringify(await keys.jwks(project.key)));
  };
}

/**
 * The JWKS endpoint.
 * @param deps - OAuth dependencies
 * @param keys - the key store
 * @returns its middleware, in order
 */
export function jwksEndpoint(deps: OAuthDeps, keys: KeyStore): RequestHandler[] {
  return [loadProject(deps), publishKeys(keys)];
}
