/** `GET {issuer}/api/v1/oauth/jwks` (RFC 7517): the project's public signing keys. */
import type { NextFunction, Request, Response } from 'express';
import type { OAuthDeps } from '../deps';
import { resolveProject } from '../project';
import type { KeyStore } from '../tokens/keys';

/**
 * The JWKS handler.
 * @param deps - OAuth dependencies
 * @param keys - the key store
 * @returns the handler
 */
export function jwksHandler(deps: OAuthDeps, keys: KeyStore) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    try {
      const project = await resolveProject(deps, req);
      res.setHeader('Cache-Control', 'public, max-age=300');
      res.type('application/jwk-set+json').send(JSON.stringify(await keys.jwks(project.key)));
    } catch (err) {
      next(err);
    }
  };
}
