/**
 * Remote JWKS fetching against real local servers: where it may connect (https, public addresses, the loopback test
 * mode, allowed hosts), the deadline and size cap, redirects, and the cache (max-age bounds, unknown-kid refetch
 * throttle, one fetch in flight, failures remembered). Time-dependent cache behaviour moves an injected clock.
 */
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { FAILURE_MEMORY_MS, RemoteJwks, type RemoteJwksOptions } from '../../src/security/remote-jwks';

/** A local HTTP server whose handler a test sets; it counts requests and reports closed connections. */
class KeyServer {
  readonly server = http.createServer((req, res) => {
    this.requests += 1;
    this.handler(req, res);
  });
  requests = 0;
  handler: http.RequestListener = (_req, res) => res.end('{}');
  private closed: Array<() => void> = [];

  async start(): Promise<string> {
    this.server.on('connection', (socket) => socket.once('close', () => this.closed.splice(0).forEach((notify) => notify())));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves when the next connection closes. */
  connectionClosed(): Promise<void> {
    return new Promise((resolve) => this.closed.push(resolve));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

const KEY_A = { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', kid: 'a' };
const KEY_B = { ...KEY_A, kid: 'b' };

const servers: KeyServer[] = [];
async function keyServer(handler: http.RequestListener): Promise<{ server: KeyServer; url: string }> {
  const server = new KeyServer();
  server.handler = handler;
  servers.push(server);
  return { server, url: `${await server.start()}/jwks.json` };
}
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

let clock = Date.now();
const options = (overrides: Partial<RemoteJwksOptions> = {}): RemoteJwksOptions => ({
  allowLoopback: true,
  allowedHosts: [],
  maxBytes: 64 * 1024,
  timeoutMs: 2000,
  minCacheSeconds: 300,
  maxCacheSeconds: 86_400,
  now: () => clock,
  ...overrides,
});
const json = (body: unknown, headers: Record<string, string> = {}): http.RequestListener => (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

describe('where remote JWKS may be fetched from', () => {
  const connections: net.Socket[] = [];
  const listener = net.createServer((socket) => {
    connections.push(socket);
    socket.destroy();
  });
  let port = 0;
  beforeAll(async () => {
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    port = (listener.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => listener.close(resolve));
  });

  it.each([
    ['http to loopback without the loopback mode', () => `http://127.0.0.1:${port}/jwks`, 'must use https'],
    ['https to a loopback address', () => `https://127.0.0.1:${port}/jwks`, 'points to an address that is not allowed'],
    ['https to an IPv4-mapped loopback address', () => `https://[::ffff:127.0.0.1]:${port}/jwks`, 'points to an address that is not allowed'],
    ['https to a name that resolves to loopback', () => `https://localhost:${port}/jwks`, 'resolves to an address that is not allowed'],
    ['https to the cloud metadata address', () => 'https://169.254.169.254/latest/meta-data/', 'points to an address that is not allowed'],
    ['https to a private address', () => 'https://10.0.0.1/jwks', 'points to an address that is not allowed'],
    ['a URL with credentials', () => `https://user:pass@localhost:${port}/jwks`, 'must not carry credentials'],
    ['a scheme other than https', () => 'file:///etc/passwd', 'must use https'],
    ['no URL at all', () => 'jwks.json', 'is not an absolute URL'],
  ])('refuses %s without connecting', async (_name, url, message) => {
    const jwks = new RemoteJwks(options({ allowLoopback: false }));
    await expect(jwks.keySet(url())).rejects.toThrow(message);
    expect(connections).toHaveLength(0);
  });

  it('in the loopback mode, allows http only to loopback addresses', async () => {
    const jwks = new RemoteJwks(options());
    await expect(jwks.keySet('http://10.0.0.1/jwks')).rejects.toThrow('points to an address that is not allowed');
    await expect(jwks.keySet('http://[fe80::1]/jwks')).rejects.toThrow('points to an address that is not allowed');
    await expect(jwks.keySet(`http://localhost:${port}/jwks`)).rejects.toThrow('could not be reached');
    expect(connections.length).toBeGreaterThan(0);
  });

  it('connects to a host named in the allowed hosts although it resolves to loopback', async () => {
    const before = connections.length;
    const jwks = new RemoteJwks(options({ allowLoopback: false, allowedHosts: ['localhost'] }));
    // The listener is no TLS server: reaching it at all is what this checks.
    await expect(jwks.keySet(`https://localhost:${port}/jwks`)).rejects.toThrow('could not be reached');
    expect(connections.length).toBe(before + 1);
  });
});

describe('limits of one fetch', () => {
  it('cuts a body that drips at the deadline and closes the connection', async () => {
    const { server, url } = await keyServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"keys":[');
      const drip = setInterval(() => res.write(' '), 20);
      res.once('close', () => clearInterval(drip));
    });
    const closed = server.connectionClosed();
    const started = Date.now();
    await expect(new RemoteJwks(options({ timeoutMs: 300 })).keySet(url)).rejects.toThrow('did not answer within 300 ms');
    expect(Date.now() - started).toBeLessThan(3000);
    await closed;
  });

  it('cuts a streamed body at the size cap long before the server is done', async () => {
    let written = 0;
    const total = 256 * 1024 * 1024;
    const { server, url } = await keyServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = (): void => {
        while (written < total && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      pump();
    });
    const closed = server.connectionClosed();
    await expect(new RemoteJwks(options({ maxBytes: 64 * 1024 })).keySet(url)).rejects.toThrow('answered more than 65536 bytes');
    await closed;
    expect(written).toBeLessThan(total / 4);
  });

  it('refuses a declared Content-Length over the cap before reading the body', async () => {
    const { url } = await keyServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(300 * 1024 * 1024) });
      res.write('{"keys":[');
    });
    await expect(new RemoteJwks(options()).keySet(url)).rejects.toThrow('answered more than 65536 bytes');
  });

  it('does not follow redirects, to a private address or anywhere else', async () => {
    const { server: target, url: targetUrl } = await keyServer(json({ keys: [KEY_A] }));
    for (const location of ['http://169.254.169.254/latest/meta-data/', 'http://10.0.0.1/jwks', targetUrl]) {
      const { url } = await keyServer((_req, res) => {
        res.writeHead(302, { location });
        res.end();
      });
      await expect(new RemoteJwks(options()).keySet(url)).rejects.toThrow('answered with a redirect (redirects are not followed)');
    }
    expect(target.requests).toBe(0);
  });

  it.each<[string, http.RequestListener, string]>([
    ['an error status', (_req, res) => res.writeHead(404).end('{"keys":[]}'), 'answered HTTP 404'],
    ['a body that is not JSON', (_req, res) => res.end('<html>'), 'did not answer a JWK Set'],
    ['JSON without keys', json({ kty: 'EC' }), 'did not answer a JWK Set'],
    ['keys without kty', json({ keys: [{ kid: 'x' }] }), 'did not answer a JWK Set'],
    ['more than 100 keys', json({ keys: Array.from({ length: 101 }, (_, i) => ({ ...KEY_A, kid: String(i) })) }), 'answered more than 100 keys'],
  ])('refuses %s', async (_name, handler, message) => {
    const { url } = await keyServer(handler);
    await expect(new RemoteJwks(options()).keySet(url)).rejects.toThrow(message);
  });
});

describe('the cache', () => {
  it('keeps a set for its max-age within the bounds, and for the minimum without one', async () => {
    for (const [cacheControl, seconds] of [
      ['max-age=600', 600],
      ['public, max-age=60', 300],
      ['max-age=31536000', 86_400],
      ['no-store', 300],
      [undefined, 300],
    ] as const) {
      const { server, url } = await keyServer(json({ keys: [KEY_A] }, cacheControl ? { 'cache-control': cacheControl } : {}));
      const jwks = new RemoteJwks(options());
      clock = Date.now();
      const start = clock;
      await jwks.keySet(url, 'a');
      clock = start + seconds * 1000 - 1;
      await jwks.keySet(url, 'a');
      expect({ cacheControl, requests: server.requests }).toEqual({ cacheControl, requests: 1 });
      clock = start + seconds * 1000;
      await jwks.keySet(url, 'a');
      expect({ cacheControl, requests: server.requests }).toEqual({ cacheControl, requests: 2 });
    }
  });

  it('refetches for an unknown kid at most once per minimum age, and picks up a rotation', async () => {
    let served = [KEY_A];
    const { server, url } = await keyServer((req, res) => json({ keys: served }, { 'cache-control': 'max-age=3600' })(req, res));
    const jwks = new RemoteJwks(options({ minCacheSeconds: 60 }));
    clock = Date.now();
    expect((await jwks.keySet(url, 'a')).keys.map((k) => k.kid)).toEqual(['a']);
    served = [KEY_B];
    // Within the minimum age an unknown kid gets the cached set (and the signature is refused).
    expect((await jwks.keySet(url, 'b')).keys.map((k) => k.kid)).toEqual(['a']);
    expect(server.requests).toBe(1);
    clock += 60_000;
    expect((await jwks.keySet(url, 'b')).keys.map((k) => k.kid)).toEqual(['b']);
    expect((await jwks.keySet(url, 'zzz')).keys.map((k) => k.kid)).toEqual(['b']);
    expect(server.requests).toBe(2);
    // The old kid is gone from the refreshed set.
    expect((await jwks.keySet(url, 'a')).keys.map((k) => k.kid)).toEqual(['b']);
  });

  it('makes one fetch for many concurrent callers', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const { server, url } = await keyServer((req, res) => void held.then(() => json({ keys: [KEY_A] })(req, res)));
    const jwks = new RemoteJwks(options());
    const calls = Array.from({ length: 20 }, () => jwks.keySet(url, 'a'));
    release();
    const sets = await Promise.all(calls);
    expect(server.requests).toBe(1);
    expect(new Set(sets).size).toBe(1);
  });

  it('remembers a failure for a while: callers fail at once, then it tries again', async () => {
    let fail = true;
    const { server, url } = await keyServer((req, res) => (fail ? res.writeHead(500).end() : json({ keys: [KEY_A] })(req, res)));
    const jwks = new RemoteJwks(options());
    clock = Date.now();
    await expect(jwks.keySet(url, 'a')).rejects.toThrow('answered HTTP 500');
    fail = false;
    await expect(jwks.keySet(url, 'a')).rejects.toThrow('answered HTTP 500');
    expect(server.requests).toBe(1);
    clock += FAILURE_MEMORY_MS;
    expect((await jwks.keySet(url, 'a')).keys).toHaveLength(1);
    expect(server.requests).toBe(2);
  });
});
