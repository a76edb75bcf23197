/**
 * A `fetch` for requests to an identity provider (discovery, JWKS, token, UserInfo) under the same guards as
 * {@link guardedGet}: https only (http only to loopback when allowed), every resolved address checked by the
 * {@link AddressPolicy} inside the socket's lookup, redirects refused, one deadline for the whole exchange, the
 * body capped. Unlike `guardedGet` it sends any method and body and hands every non-redirect status back, so the
 * relying-party library can read a provider's `{error}` answers. It is given to openid-client as its
 * `customFetch`, so the library never opens a connection of its own.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { AddressPolicy } from './address-policy';
import { destination, guardedLookup, OutboundRequestError } from './guarded-get';

/** Limits and permissions of the requests. */
export interface GuardedFetchOptions {
  policy: AddressPolicy;
  allowHttpLoopback: boolean;
  maxBytes: number;
  timeoutMs: number;
}

/** What openid-client passes to its custom fetch. */
interface FetchInit {
  method?: string;
  headers?: ConstructorParameters<typeof Headers>[0];
  body?: string | URLSearchParams | ArrayBuffer | ArrayBufferView | ReadableStream | null;
  signal?: AbortSignal | null;
}

/** A fetch-compatible function. */
export type GuardedFetch = (url: string, init?: FetchInit) => Promise<Response>;

function bodyBytes(body: FetchInit['body']): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string' || body instanceof URLSearchParams) return Buffer.from(body.toString(), 'utf8');
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  // A streamed body is never sent to an identity provider (openid-client sends forms and JSON).
  if (body instanceof ReadableStream) throw new OutboundRequestError('content', 'cannot send a streamed body');
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/**
 * Makes the guarded fetch.
 * @param options - policy and limits
 * @returns the fetch function
 */
export function guardedFetch(options: GuardedFetchOptions): GuardedFetch {
  return (raw, init = {}) => {
    let target: ReturnType<typeof destination>;
    try {
      target = destination(raw, options);
    } catch (err) {
      return Promise.reject(err);
    }
    const { url, allows } = target;
    const { maxBytes, timeoutMs } = options;
    let body: Buffer | undefined;
    try {
      body = bodyBytes(init.body);
    } catch (err) {
      return Promise.reject(err);
    }
    const headers = Object.fromEntries(new Headers(init.headers ?? {}).entries());
    return new Promise<Response>((resolve, reject) => {
      const client = url.protocol === 'https:' ? https : http;
      const req = client.request(url, {
        method: init.method ?? 'GET',
        agent: false,
        lookup: guardedLookup(allows),
        headers: { ...headers, 'accept-encoding': 'identity', ...(body !== undefined ? { 'content-length': String(body.length) } : {}) },
      });
      const timer = setTimeout(() => req.destroy(new OutboundRequestError('timeout', `did not answer within ${timeoutMs} ms`)), timeoutMs);
      const fail = (err: unknown): void => {
        clearTimeout(timer);
        reject(err instanceof OutboundRequestError ? err : new OutboundRequestError('connect', 'could not be reached', { cause: err }));
      };
      init.signal?.addEventListener('abort', () => req.destroy(new OutboundRequestError('timeout', 'was aborted')), { once: true });
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
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (typeof value === 'string') responseHeaders.set(name, value);
            else if (Array.isArray(value)) for (const v of value) responseHeaders.append(name, v);
          }
          const payload = status === 204 || status === 205 ? null : Buffer.concat(chunks);
          resolve(new Response(payload, { status, headers: responseHeaders }));
        });
      });
      if (body !== undefined) req.write(body);
      req.end();
    });
  };
}
