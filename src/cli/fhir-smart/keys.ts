/** `keys list|rotate`: the project's signing keys through `{issuer}/api/v1/oauth/keys` (owners and admins). */
import { type Connection, ensureOk } from './connection';
import { printJson, println } from './output';

interface KeyDescription {
  kid: string;
  alg: string;
  createdAt: string;
  retiredAt?: string;
  removeAfter?: string;
}

/** `keys list`. */
export async function keysList(connection: Connection, options: { json?: boolean }): Promise<void> {
  const result = ensureOk(await connection.request('GET', `${connection.oauthBase}/keys`, { headers: { Accept: 'application/json' } }));
  const { keys } = result.body as { keys: KeyDescription[] };
  if (options.json) {
    printJson(result.body);
    return;
  }
  if (keys.length === 0) println('no signing key yet (one is created on first use)');
  for (const k of keys) println(`${k.kid}\t${k.alg}\tcreated ${k.createdAt}\t${k.retiredAt ? `retired ${k.retiredAt}, published until ${k.removeAfter ?? '?'}` : 'active'}`);
}

/** `keys rotate`. */
export async function keysRotate(connection: Connection): Promise<void> {
  const result = ensureOk(await connection.request('POST', `${connection.oauthBase}/keys/rotate`, { headers: { Accept: 'application/json' } }));
  const { kid, retired } = result.body as { kid: string; retired?: string };
  println(`new signing key ${kid}${retired ? `; retired ${retired} (published until its tokens expire)` : ''}`);
}
