/**
 * Random writes of the auth resources for the escalation property test, from a seeded xorshift32 generator:
 * create (POST, or PUT on a new or deleted id), update, patch and delete of User, Membership, AccessPolicy and
 * ClientApplication — fresh bodies, or what was read PUT back with a small change — with field values drawn from
 * pools that name owners, admins, the writer itself, puppets, full-access and rule-engine principals, ids policies
 * name in advance, and deleted ids.
 */
import type { WriteOp } from './escalation-world';

/** A seeded PRNG: uniform numbers in [0, 1). */
export type Random = () => number;

/**
 * xorshift32 (Marsaglia 2003).
 * @param seed - any 32-bit integer (0 is replaced by 1)
 * @returns the generator
 */
export function xorshift32(seed: number): Random {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

const USERS = ['owner', 'adm', 'deputy', 'nurse', 'clerk', 'writer', 'left', 'ghost', 'puppet1', 'puppet2', 'puppet3'];
const MEMBERSHIPS = ['m-owner', 'm-adm', 'm-deputy', 'm-nurse', 'm-clerk', 'm-writer', 'm-gone', 'm-gone-t', 'm-left', 'm-ghost', 'm-future', 'm-p1', 'm-p2', 'm-p3'];
const CLIENTS = ['c-rule', 'c-fa', 'c-plain', 'c-gone', 'c-gone-plain', 'c-future', 'c-p1', 'c-p2'];
const POLICIES = ['p-deputy', 'p-nurse', 'p-writer', 'p-future', 'p-ghost', 'p-new'];
const TARGETS = [...MEMBERSHIPS.map((m) => `Membership/${m}`), ...CLIENTS.map((c) => `ClientApplication/${c}`)];
const ROLES = ['member', 'member', 'member', 'admin', 'owner'];
const LINKS = ['Patient/a', 'Practitioner/n1', 'Practitioner/chief'];
const REDIRECTS = ['https://plain.example/cb', 'https://writer.example/cb'];
const IDS: Record<string, string[]> = { User: USERS, Membership: MEMBERSHIPS, ClientApplication: CLIENTS, AccessPolicy: POLICIES };

/** Draws random writes. */
export class OpGenerator {
  private counter = 0;

  /**
   * @param random - the PRNG
   * @param httpShare - the share of writes sent over HTTP
   * @param templates - resources as read (by `Type/id`), PUT back with a small change now and then
   */
  constructor(
    private readonly random: Random,
    private readonly httpShare: number,
    private readonly templates: ReadonlyMap<string, Record<string, unknown>>,
  ) {}

  /**
   * A sequence of writes.
   * @param length - how many
   * @returns the writes
   */
  sequence(length: number): WriteOp[] {
    return Array.from({ length }, () => this.op());
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)] as T;
  }

  private chance(p: number): boolean {
    return this.random() < p;
  }

  private op(): WriteOp {
    const type = this.pick(['User', 'User', 'Membership', 'Membership', 'Membership', 'ClientApplication', 'ClientApplication', 'AccessPolicy']);
    const method = this.pick(['POST', 'PUT', 'PUT', 'PATCH', 'PATCH', 'PATCH', 'DELETE'] as const);
    const id = method === 'POST' ? undefined : this.pick(IDS[type] as string[]);
    const http = this.chance(this.httpShare);
    if (method === 'DELETE') return { method, type, id, http };
    const template = this.templates.get(`${type}/${id ?? ''}`);
    const body = method === 'PATCH' ? this.patch(type) : template && this.chance(0.4) ? this.putBack(template) : this.resource(type, id);
    return { method, type, id, body, http };
  }

  /** What was read, with one descriptive or management field changed. */
  private putBack(template: Record<string, unknown>): Record<string, unknown> {
    const n = ++this.counter;
    switch (template.resourceType) {
      case 'User':
        return { ...template, name: { text: `put back ${n}` } };
      case 'Membership':
        return { ...template, active: this.chance(0.5) };
      case 'ClientApplication':
        return { ...template, description: `put back ${n}`, status: this.pick(['active', 'inactive']) };
      default:
        return { ...template, description: `put back ${n}` };
    }
  }

  private resource(type: string, id: string | undefined): Record<string, unknown> {
    const n = ++this.counter;
    const base = { resourceType: type, ...(id === undefined ? {} : { id }) };
    switch (type) {
      case 'User':
        return {
          ...base,
          email: this.chance(0.75) ? `${id ?? `new${n}`}@x.test` : `${this.pick(USERS)}@x.test`,
          role: this.pick(ROLES),
          ...(this.chance(0.3) ? { active: this.chance(0.5) } : {}),
          ...(this.chance(0.3) ? { name: { text: `name ${n}` } } : {}),
          // Rarer on new Users: they may carry one, and each costs a scrypt hash.
          ...(this.chance(id === undefined ? 0.05 : 0.15) ? { password: `password number ${n}` } : {}),
        };
      case 'Membership':
        return {
          ...base,
          user: { reference: `User/${this.pick(USERS)}` },
          ...(this.chance(0.6) ? { active: this.chance(0.7) } : {}),
          ...(this.chance(0.4) ? { link: { reference: this.pick(LINKS) } } : {}),
        };
      case 'ClientApplication': {
        const method = this.pick(['client_secret_basic', 'client_secret_post', 'none', 'private_key_jwt']);
        return {
          ...base,
          name: `client ${n}`,
          status: this.pick(['active', 'active', 'inactive']),
          grantType: this.pick([['client_credentials'], ['authorization_code'], ['authorization_code', 'refresh_token']]),
          tokenEndpointAuthMethod: method,
          scope: this.pick(['system/*.*', 'user/*.*', 'openid fhirUser user/*.*']),
          ...(method.startsWith('client_secret') && this.chance(0.5) ? { secret: `secret number ${n}` } : {}),
          ...(method === 'private_key_jwt' ? { jwksUri: 'https://writer.example/jwks' } : {}),
          ...(this.chance(0.6) ? { redirectUri: [this.pick(REDIRECTS)] } : {}),
          ...(this.chance(0.3) ? { consentRequired: this.chance(0.5) } : {}),
        };
      }
      default: {
        const engine = this.pick(['full-access', 'rule-engine']);
        return {
          ...base,
          name: `policy ${n}`,
          engine,
          target: [{ link: { reference: this.pick(TARGETS) } }, ...(this.chance(0.3) ? [{ link: { reference: 'Membership/m-writer' } }] : [])],
          ...(engine === 'rule-engine' ? { rule: [{ name: 'everything' }] } : {}),
        };
      }
    }
  }

  private patch(type: string): unknown[] {
    const n = ++this.counter;
    const choices: Record<string, Array<() => unknown>> = {
      User: [
        () => ({ op: 'replace', path: '/role', value: this.pick(ROLES) }),
        () => ({ op: 'add', path: '/password', value: `patched password ${n}` }),
        () => ({ op: 'replace', path: '/email', value: `patched${n}@x.test` }),
        () => ({ op: 'add', path: '/active', value: this.chance(0.5) }),
        () => ({ op: 'add', path: '/name', value: { text: `patched ${n}` } }),
      ],
      Membership: [
        () => ({ op: 'replace', path: '/user', value: { reference: `User/${this.pick(USERS)}` } }),
        () => ({ op: 'add', path: '/active', value: this.chance(0.5) }),
        () => ({ op: 'add', path: '/link', value: { reference: this.pick(LINKS) } }),
      ],
      ClientApplication: [
        () => ({ op: 'add', path: '/name', value: `patched ${n}` }),
        () => ({ op: 'add', path: '/description', value: `described ${n}` }),
        () => ({ op: 'add', path: '/status', value: this.pick(['active', 'inactive']) }),
        () => ({ op: 'add', path: '/secret', value: `patched secret ${n}` }),
        () => ({ op: 'add', path: '/redirectUri', value: [this.pick(REDIRECTS)] }),
        () => ({ op: 'add', path: '/consentRequired', value: false }),
        () => ({ op: 'add', path: '/scope', value: 'system/*.*' }),
        () => ({ op: 'add', path: '/jwksUri', value: 'https://writer.example/jwks' }),
      ],
      AccessPolicy: [
        () => ({ op: 'add', path: '/engine', value: 'full-access' }),
        () => ({ op: 'add', path: '/target/-', value: { link: { reference: this.pick(TARGETS) } } }),
        () => ({ op: 'add', path: '/name', value: `patched ${n}` }),
      ],
    };
    const options = choices[type] as Array<() => unknown>;
    return Array.from({ length: this.chance(0.3) ? 2 : 1 }, () => this.pick(options)());
  }
}
