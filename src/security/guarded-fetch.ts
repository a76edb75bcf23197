/**
 * A `fetch` for requests to an identity provider (discovery, JWKS, token, UserInfo) under the same guards as
 * {@link guardedGet}: https only (http only to loopback when allowed), every resolved address checked by the
 * {@link AddressPolicy} inside the socket's lookup, redirects refused, one deadline for the whole exchange, the
 * body capped. Unlike `guardedGet` it sends any method and body and hands every non-redirect status back, so the
 * relying-party library can read a provider's `{error}` answers. It is given to openid-client as its
 * `customFetch`, so the library never opens a connection of its own.
 */
import type { AddressPolicy } from './address-policy';
import { destination, exchange, OutboundRequestError } from './guarded-get';

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
  return async (raw, init = {}) => {
    const target = destination(raw, options);
    const body = bodyBytes(init.body);
    const headers = Object.fromEntries(new Headers(init.headers ?? {}).entries());
    const answer = await exchange(target, {
      method: init.method ?? 'GET',
      headers,
      ...(body !== undefined ? { body } : {}),
      timeoutMs: options.timeoutMs,
      maxBytes: options.maxBytes,
      signal: init.signal ?? null,
    });
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      if (typeof value === 'string') responseHeaders.set(name, value);
      else if (Array.isArray(value)) for (const v of value) responseHeaders.append(name, v);
    }
    const payload = answer.status === 204 || answer.status === 205 ? null : answer.body;
    return new Response(payload, { status: answer.status, headers: responseHeaders });
  };
}
