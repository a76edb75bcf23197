/**
 * Validation gate for every stored version: the R4 JSON schema plus required elements; for an AccessPolicy,
 * then every FHIRPath expression compiled (docs/access-policies.md, "Compile-time errors"); for an IdentityProvider,
 * the rules of docs/federated-login.md (URLs, endpoints, scope, domains); for a ProjectSettings, those of
 * docs/projects.md (fixed id, lifetimes, origins).
 */
import { assertValidIdentityProvider } from '../../oauth/federated/provider-rules';
import { assertValidProjectSettings } from '../../oauth/settings-rules';
import { assertValidAccessPolicy } from '../../policy/compile';
import { InvalidResourceError } from '../errors';
import { validateResource } from '../validation/validate-resource';

/**
 * Throws a 400 with one issue per problem when the resource is invalid.
 * @param resource - the resource about to be stored
 */
export function assertValidResource(resource: Record<string, unknown>): void {
  const issues = validateResource(resource);
  if (issues.length > 0) throw new InvalidResourceError(issues);
  if (resource.resourceType === 'AccessPolicy') assertValidAccessPolicy(resource);
  if (resource.resourceType === 'IdentityProvider') assertValidIdentityProvider(resource);
  if (resource.resourceType === 'ProjectSettings') assertValidProjectSettings(resource);
}
