/**
 * Attributes (`AccessPolicy.attribute`): data a policy's rules need, fetched through an injected
 * {@link AttributeFetcher} at most once per request and exposed as `%<attributeId>`.
 * - `read`: `operation.path` yields references (`Practitioner/1`, or Reference elements); each is read.
 * - `search-type`: `operation.path` yields the resource type, `operation.params` yields query strings
 *   (`organization=Organization/1&active=true`); the matching resources are the value.
 * An attribute that cannot be fetched makes every expression reading it fail, which denies (fail closed).
 */
import { REFERENCE_TARGET } from '../fhir/reference-patterns';
import type { AttributeFetcher, CompiledAttribute, CompiledPolicy, PolicyResource } from './types';

/** Most references a `read` attribute follows. */
export const MAX_ATTRIBUTE_READS = 50;


/** An attribute whose fetch failed; reading it makes the expression fail. */
export class AttributeError extends Error {
  constructor(attributeId: string, cause: unknown) {
    super(`attribute %${attributeId} could not be fetched: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'AttributeError';
  }
}

function referenceOf(item: unknown): { type: string; id: string } | undefined {
  const text = typeof item === 'object' && item !== null ? (item as { reference?: unknown }).reference : item;
  const match = typeof text === 'string' ? REFERENCE_TARGET.exec(text) : null;
  return match ? { type: match[1] as string, id: match[2] as string } : undefined;
}

async function fetchAttribute(fetcher: AttributeFetcher, attribute: CompiledAttribute, env: Record<string, unknown>): Promise<PolicyResource[]> {
  const items = attribute.source.evaluate(undefined, env);
  if (attribute.type === 'read') {
    const references = items.map(referenceOf).filter((r) => r !== undefined).slice(0, MAX_ATTRIBUTE_READS);
    const resources = await Promise.all(references.map((r) => fetcher.read(r.type, r.id)));
    return resources.filter((r): r is PolicyResource => r !== undefined);
  }
  const type = items[0];
  if (typeof type !== 'string' || !/^[A-Z][A-Za-z]+$/.test(type)) throw new Error('operation.path did not yield a resource type');
  const query: Array<[string, string]> = [];
  for (const text of attribute.params?.evaluate(undefined, env) ?? []) {
    if (typeof text !== 'string') throw new Error('operation.params must yield strings such as name=value&name2=value2');
    for (const [name, value] of new URLSearchParams(text)) query.push([name, value]);
  }
  return fetcher.search(type, query);
}

/** Per-request attribute values, per policy (attribute ids are local to their policy). */
export class AttributeResolver {
  private readonly cache = new Map<CompiledPolicy, Promise<Record<string, unknown>>>();

  /**
   * @param requestEnv - the request-level variables (`%user`, `%request`, ...)
   * @param fetcher - where attribute data comes from; without one, attributes fail
   */
  constructor(
    private readonly requestEnv: Record<string, unknown>,
    private readonly fetcher: AttributeFetcher | undefined,
  ) {}

  /**
   * The variables a policy's rules see: the request-level ones plus its attributes, fetched on first use.
   * A failed attribute is bound to an accessor that throws {@link AttributeError}.
   * @param policy - the policy
   * @returns the environment (a prototype chain over the request-level one)
   */
  envFor(policy: CompiledPolicy): Promise<Record<string, unknown>> {
    if (policy.attributes.length === 0) return Promise.resolve(this.requestEnv);
    let env = this.cache.get(policy);
    if (!env) {
      env = this.load(policy);
      this.cache.set(policy, env);
    }
    return env;
  }

  private async load(policy: CompiledPolicy): Promise<Record<string, unknown>> {
    const env = Object.create(this.requestEnv) as Record<string, unknown>;
    for (const attribute of policy.attributes) {
      try {
        if (!this.fetcher) throw new Error('no attribute fetcher was configured');
        const value = await fetchAttribute(this.fetcher, attribute, env);
        Object.defineProperty(env, attribute.attributeId, { value, enumerable: true });
      } catch (err) {
        const error = new AttributeError(attribute.attributeId, err);
        Object.defineProperty(env, attribute.attributeId, {
          enumerable: true,
          get: () => {
            throw error;
          },
        });
      }
    }
    return env;
  }
}
