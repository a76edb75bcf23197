/**
 * The fixtures of each world of the escalation property test: an owner, an admin, a member whose Membership has a
 * full-access policy, a nurse with a rule-engine policy (who consented to some clients), clients with and without
 * policies, policies naming ids that do not exist, deleted ids (targeted and not), and the writer: a member whose
 * AccessPolicy permits every interaction on User, Membership, AccessPolicy and ClientApplication.
 */
import { REDIRECT } from '../../oauth/oauth-fixtures';

type Json = Record<string, unknown>;

/** Clients the nurse consented to in every world. */
export const CONSENTED_CLIENTS = ['c-plain', 'c-rule', 'c-gone-plain'];

/** The secret of the writer's client (`writer-app`). */
export const WRITER_SECRET = 'secret of the writer app';

const user = (id: string, role = 'member'): Json => ({ resourceType: 'User', id, email: `${id}@x.test`, role });
const membership = (id: string, userId: string): Json => ({ resourceType: 'Membership', id, user: { reference: `User/${userId}` }, active: true });
const client = (id: string, extra: Json = {}): Json => ({
  resourceType: 'ClientApplication', id, name: id, status: 'active', grantType: ['client_credentials'], tokenEndpointAuthMethod: 'client_secret_basic', secret: `secret of ${id}`, scope: 'system/*.*', ...extra,
});
const policy = (id: string, targets: string[], engine = 'rule-engine', rule: Json[] = [{ name: 'patients', target: { expression: "%request.resourceType = 'Patient'" } }]): Json => ({
  resourceType: 'AccessPolicy', id, name: id, engine, target: targets.map((reference) => ({ link: { reference } })), ...(engine === 'rule-engine' ? { rule } : {}),
});

/** The fixture resources, in order; `{ delete }` deletes the resource named. */
export function fixtures(): Json[] {
  return [
    user('owner', 'owner'), membership('m-owner', 'owner'),
    user('adm', 'admin'), membership('m-adm', 'adm'),
    user('deputy'), membership('m-deputy', 'deputy'), policy('p-deputy', ['Membership/m-deputy'], 'full-access'),
    user('nurse'), { ...membership('m-nurse', 'nurse'), link: { reference: 'Practitioner/n1' } }, policy('p-nurse', ['Membership/m-nurse']),
    user('clerk'), membership('m-clerk', 'clerk'),
    user('writer'), membership('m-writer', 'writer'),
    policy('p-writer', ['Membership/m-writer'], 'rule-engine', [
      { name: 'auth resources', target: { expression: "%request.resourceType in ('User' | 'Membership' | 'AccessPolicy' | 'ClientApplication')" } },
    ]),
    membership('m-gone', 'clerk'), { delete: 'Membership/m-gone' },
    membership('m-gone-t', 'nurse'), policy('p-gone', ['Membership/m-gone-t']), { delete: 'Membership/m-gone-t' },
    user('left'), membership('m-left', 'left'), policy('p-left', ['Membership/m-left']), { delete: 'User/left' },
    membership('m-ghost', 'ghost'), policy('p-ghost', ['Membership/m-ghost']),
    policy('p-future', ['Membership/m-future', 'ClientApplication/c-future']),
    client('c-rule'), policy('p-crule', ['ClientApplication/c-rule']),
    client('c-fa'), policy('p-cfa', ['ClientApplication/c-fa'], 'full-access'),
    client('c-plain', { grantType: ['authorization_code'], redirectUri: ['https://plain.example/cb'], scope: 'user/*.*' }),
    client('c-gone'), policy('p-cgone', ['ClientApplication/c-gone']), { delete: 'ClientApplication/c-gone' },
    client('c-gone-plain'), { delete: 'ClientApplication/c-gone-plain' },
    client('writer-app', { grantType: ['authorization_code'], redirectUri: [REDIRECT], scope: 'openid fhirUser user/*.*', secret: WRITER_SECRET }),
  ];
}

/**
 * The fixtures as a client reads them (no credentials), by `Type/id`: bodies to PUT back, possibly changed.
 * @returns the templates
 */
export function fixtureTemplates(): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const { secret: _secret, password: _password, ...resource } of fixtures()) {
    if (typeof resource.resourceType === 'string') out.set(`${resource.resourceType}/${String(resource.id)}`, resource);
  }
  return out;
}

/** The fixtures live at the end of the fixture list (with credentials), and the ids deleted by then. */
export function fixtureStates(): { live: Map<string, Json>; deleted: Set<string> } {
  const live = new Map<string, Json>();
  const deleted = new Set<string>();
  for (const entry of fixtures()) {
    const key = typeof entry.delete === 'string' ? entry.delete : `${String(entry.resourceType)}/${String(entry.id)}`;
    if (typeof entry.delete === 'string') {
      live.delete(key);
      deleted.add(key);
    } else {
      live.set(key, entry);
      deleted.delete(key);
    }
  }
  return { live, deleted };
}

/** The secret each fixture client was given (only the admin knows them). */
export const FIXTURE_SECRETS: ReadonlyMap<string, string> = new Map(
  fixtures()
    .filter((f) => f.resourceType === 'ClientApplication' && typeof f.secret === 'string')
    .map((f) => [`ClientApplication/${String(f.id)}`, f.secret as string]),
);
