/**
 * A GET to a URL someone else chose (a client's `jwksUri`), made so that it cannot be turned against the server:
 * - `https:` only; `http:` only when the caller allows it for loopback destinations (tests), no credentials in the URL;
 * - every address the host resolves to must pass the {@link AddressPolicy}, checked inside the socket's `lookup`, so
 *   the connection goes to the address that was checked (a second DNS answer cannot rebind it); an IP literal is
 *   checked before connecting (no lookup happens for it);
 * - redirects are not followed: a 3xx is a failure, so a redirect to an internal address reaches nothing;
 * - one deadline covers resolution, connection, headers and the whole body, so a server that drips bytes is cut off;
 * - the body is counted as it streams and the request destroyed once it exceeds the cap (a `Content-Length` over the
 *   cap is refused before reading), so memory stays bounded whatever the server sends;
 * - no connection pooling (`agent: false`): nothing lingers once the answer is read.
 * Failures are {@link OutboundRequestError}s whose message is safe to show a client: it never names an address.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { type AddressPolicy, classifyAddress } from './address-policy';

/** Why an outbound request failed. */
export type OutboundFailure = 'url' | 'address' | 'dns' | 'connect' | 'timeout' | 'too-large' | 'redirect' | 'status' | 'content';

/** An outbound request failed; `message` is safe to show to the client whose URL it was. */
export class OutboundRequestError extends Error {
  constructor(
    readonly reason: OutboundFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'OutboundRequestError';
  }
}

/** Limits and permissions of one request. */
export interface GuardedGetOptions {
  policy: AddressPolicy;
  /** `http:` URLs are allowed when every address of the host is a loopback address. */
  allowHttpLoopback: boolean;
  /** Largest accepted body, in bytes. */
  maxBytes: number;
  /** Deadline of the whole exchange, in milliseconds. */
  timeoutMs: number;
  /** Request headers (`Accept`). */
  headers?: Record<string, string>;
}

/** A complete 200 response. */
export interface GuardedResponse {
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** The checked destination of a URL. */
export interface Destination {
  url: URL;
  /** Whether an address may be connected to. */
  allows: (address: string) => boolean;
}

/**
 * Parses a URL and decides which addresses it may connect to.
 * @param raw - the URL
 * @param options - policy and permissions
 * @returns the URL and the address check
 * @throws OutboundRequestError when the URL itself is refused
 */
export function destination(raw: string, options: Pick<GuardedGetOptions, 'policy' | 'allowHttpLoopback'>): Destination {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OutboundRequestError('url', 'is not an absolute URL');
  }
  if (url.username || url.password) throw new OutboundRequestError('url', 'must not carry credentials');
  const { policy } = options;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let allows: (address: string) => boolean;
  if (url.protocol === 'https:') {
    allows = policy.isHostAllowed(host) ? () => true : (address) => policy.isAddressAllowed(address);
  } else if (url.protocol === 'http:' && options.allowHttpLoopback) {
    allows = (address) => classifyAddress(address) === 'loopback';
  } else {
    throw new OutboundRequestError('url', 'must use https');
  }
  if (isIP(host) !== 0 && !allows(host)) throw new OutboundRequestError('address', 'points to an address that is not allowed');
  return { url, allows };
}

/**
 * A `lookup` that refuses a host when any of its addresses is not allowed.
 * @param allows - the address check of the destination
 * @returns the lookup function for `http.request`
 */
export function guardedLookup(allows: (address: string) => boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => {
      if (err) return callback(new OutboundRequestError('dns', 'could not be resolved', { cause: err }), '');
      if (addresses.length === 0 || addresses.some((a) => !allows(a.address))) {
        return callback(new OutboundRequestError('address', 'resolves to an address that is not allowed'), '');
      }
      const [first] = addresses as [LookupAddress];
      if (options.all) callback(null, addresses);
      else callback(null, first.address, first.family);
    });
  };
}

/** One request/answer exchange under the guards (see {@link exchange}). */
export interface ExchangeRequest {
  method: string;
  headers?: Record<string, string>;
  body?: Buffer;
  timeoutMs: number;
  maxBytes: number;
  signal?: AbortSignal | null;
}

/** What {@link exchange} answers. */
export interface ExchangeResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * Sends one request to a checked destination: the guarded lookup, no connection reuse, redirects refused, one
 * deadline for the whole exchange, the body capped.
 * @param target - the destination (from {@link destination})
 * @param request - method, headers, body and limits
 * @returns the status, headers and body of any non-redirect answer
 * @throws OutboundRequestError for every failure
 */
export function exchange(target: Destination, request: ExchangeRequest): Promise<ExchangeResponse> {
  const { url, allows } = target;
  const { maxBytes, timeoutMs, body } = request;
  return new Promise<ExchangeResponse>((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http;
    const req = client.request(url, {
      method: request.method,
      agent: false,
      lookup: guardedLookup(allows),
      headers: { ...request.headers, 'accept-encoding': 'identity', ...(body !== undefined ? { 'content-length': String(body.length) } : {}) },
    });
    const timer = setTimeout(() => req.destroy(new OutboundRequestError('timeout', `did not answer within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: unknown): void => {
      clearTimeout(timer);
      reject(err instanceof OutboundRequestError ? err : new OutboundRequestError('connect', 'could not be reached', { cause: err }));
    };
    request.signal?.addEventListener('abort', () => req.destroy(new OutboundRequestError('timeout', 'was aborted')), { once: true });
    req.once('error', fail);
    req.once('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400) return req.destroy(new OutboundRequestError('redirect', 'answered with a redirect (redirects are not followed)'));
      if (status < 200 || status > 599) return req.destroy(new OutboundRequestError('status', `answered HTTP ${status}`));
      const tooLarge = (): OutboundRequestError => new OutboundRequestError('too-large', `answered more than ${maxBytes} bytes`);
      if (Number(res.headers['content-length'] ?? 0) > maxBytes) return req.destroy(tooLarge());
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) req.destroy(tooLarge());
        else chunks.push(chunk);
      });
      res.once('error', fail);
      res.once('end', () => {
        clearTimeout(timer);
        if (size > maxBytes) return;
        resolve({ status, headers: res.headers, body: Buffer.concat(chunks) });
      });
    });
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/**
 * Fetches a URL under the guards above.
 * @param raw - the URL
 * @param options - policy and limits
 * @returns the headers and body of a 200 response
 * @throws OutboundRequestError for every failure
 */
export async function guardedGet(raw: string, options: GuardedGetOptions): Promise<GuardedResponse> {
  const target = destination(raw, options);
  const { status, headers, body } = await exchange(target, {
    method: 'GET',
    ...(options.headers ? { headers: options.headers } : {}),
    timeoutMs: options.timeoutMs,
    maxBytes: options.maxBytes,
  });
  if (status !== 200) throw new OutboundRequestError('status', `answered HTTP ${status}`);
  return { headers, body };
}
