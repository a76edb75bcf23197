/** `POST {issuer}/api/v1/oauth/token` (RFC 6749 §3.2): form-encoded; client authentication, then the grant. */
import type { NextFunction, Request, Response } from 'express';
import { authenticateClient } from '../clients/client-auth';
import type { OAuthDeps } from '../deps';
import { InvalidRequestError } from '../errors';
import { runGrant } from '../grants';
import { resolveProject } from '../project';
import type { KeyStore } from '../tokens/keys';
import { sendNoStore } from './respond';

/**
 * The form body as name → value, refusing repeated parameters (RFC 6749 §3.2).
 * @param req - the request
 * @returns the parameters
 */
export function formBody(req: Request): Record<string, unknown> {
  if (!req.is('application/x-www-form-urlencoded')) throw new InvalidRequestError('The body must be application/x-www-form-urlencoded');
  const body = (req.body ?? {}) as Record<string, unknown>;
  for (const [name, value] of Object.entries(body)) {
    if (Array.isArray(value)) throw new InvalidRequestError(`Parameter '${name}' is repeated`);
  }
  return body;
}

/**
 * The token endpoint handler.
 * @param deps - OAuth dependencies
 * @param keys - the key store
 * @returns the handler
 */
export function tokenHandler(deps: OAuthDeps, keys: KeyStore) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    try {
      const project = await resolveProject(deps, req);
      const body = formBody(req);
      const grantType = typeof body.grant_type === 'string' ? body.grant_type : undefined;
      if (!grantType) throw new InvalidRequestError('grant_type is required');
      const auth = await authenticateClient(deps, project, req.get('authorization'), body, `${project.oauthBase}/token`);
      sendNoStore(res, 200, await runGrant(grantType, { deps, keys, project, auth, body }));
    } catch (err) {
      next(err);
    }
  };
}
