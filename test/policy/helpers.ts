/** Builders shared by the policy unit tests. */
import { compileAccessPolicy } from '../../src/policy/compile';
import type { CompiledPolicy, PolicyPrincipal, PolicyRequest } from '../../src/policy/types';

/**
 * Compiles a policy and fails the test when it does not compile.
 * @param resource - the AccessPolicy fields (resourceType, id, name, engine default)
 * @returns the compiled policy
 */
export function policy(resource: Record<string, unknown>): CompiledPolicy {
  const { policy: compiled, issues } = compileAccessPolicy({ resourceType: 'AccessPolicy', id: 'p', name: 'p', engine: 'rule-engine', ...resource });
  if (issues.length > 0) throw new Error(`policy does not compile: ${JSON.stringify(issues)}`);
  return compiled;
}

/**
 * A member user principal.
 * @param policies - the policies targeting it
 * @param extra - overrides
 * @returns the principal
 */
export function member(policies: CompiledPolicy[], extra: Partial<PolicyPrincipal> = {}): PolicyPrincipal {
  return {
    project: 't/p',
    kind: 'user',
    reference: 'Membership/m1',
    active: true,
    user: { resourceType: 'User', id: 'u1', email: 'u@example.test', role: 'member' },
    membership: { resourceType: 'Membership', id: 'm1', user: { reference: 'User/u1' }, link: { reference: 'Patient/pat1' } },
    fhirUser: { resourceType: 'Patient', id: 'pat1' },
    scopes: ['user/*.*'],
    role: 'member',
    policies,
    ...extra,
  };
}

/**
 * A request.
 * @param interaction - the interaction
 * @param resourceType - the type
 * @param extra - more fields
 * @returns the request
 */
export function request(interaction: PolicyRequest['interaction'], resourceType?: string, extra: Partial<PolicyRequest> = {}): PolicyRequest {
  return { interaction, resourceType, parameters: [], ...extra };
}
