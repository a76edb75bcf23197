/**
 * A small FHIR client over fetch: bearer token from the session, JSON in and out, errors as {@link FhirError}
 * carrying the status and the server's OperationOutcome. One retry after a 401 with a refreshed token.
 */

/** An OperationOutcome issue (the parts the app shows). */
export interface Issue {
  severity?: string;
  code?: string;
  diagnostics?: string;
  details?: { text?: string };
  expression?: string[];
}

/** Any FHIR resource. */
export type Resource = { resourceType: string; id?: string; meta?: { versionId?: string; lastUpdated?: string } } & Record<string, unknown>;

/** A search or history Bundle. */
export interface Bundle {
  resourceType: 'Bundle';
  total?: number;
  link?: Array<{ relation: string; url: string }>;
  entry?: Array<{ resource?: Resource; search?: { mode?: string }; request?: { method?: string; url?: string }; response?: { status?: string } }>;
}

/** A refused or failed request. */
export class FhirError extends Error {
  constructor(
    readonly status: number,
    readonly issues: Issue[],
  ) {
    super(issues.map((i) => i.diagnostics ?? i.details?.text ?? i.code).filter(Boolean).join('; ') || `HTTP ${status}`);
  }

  /** What the status means to a person. */
  get title(): string {
    if (this.status === 401) return 'Not signed in (401)';
    if (this.status === 403) return 'Forbidden (403): your access policies or scopes do not allow this';
    if (this.status === 404) return 'Not found (404)';
    if (this.status === 410) return 'Deleted (410)';
    if (this.status === 412) return 'Changed meanwhile (412)';
    if (this.status === 0) return 'The server did not answer';
    return `Refused (${this.status})`;
  }
}

/** What the client needs from the session. */
export interface TokenSource {
  token(): string | undefined;
  /** Gets a new access token; false when that is not possible. */
  renew(): Promise<boolean>;
}

/** The FHIR client of one project. */
export class FhirClient {
  constructor(
    readonly base: string,
    private readonly tokens: TokenSource,
  ) {}

  /**
   * Turns an absolute link of a Bundle (built from the server's PUBLIC_URL) into a path under this base.
   * @param url - the link
   * @returns the path relative to the base (with its query)
   */
  relative(url: string): string {
    const at = url.indexOf(this.base);
    return at >= 0 ? url.slice(at + this.base.length + 1) : url;
  }

  async request<T = Resource>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const send = (): Promise<Response> =>
      fetch(`${this.base}/${path}`, {
        method,
        headers: {
          Accept: 'application/fhir+json',
          ...(this.tokens.token() ? { Authorization: `Bearer ${this.tokens.token()}` } : {}),
          ...(body !== undefined ? { 'Content-Type': 'application/fhir+json' } : {}),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    let res: Response;
    try {
      res = await send();
      if (res.status === 401 && (await this.tokens.renew())) res = await send();
    } catch {
      throw new FhirError(0, [{ severity: 'error', code: 'transient', diagnostics: 'The server did not answer.' }]);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const outcome = json as { resourceType?: string; issue?: Issue[]; error_description?: string } | undefined;
      const issues = outcome?.resourceType === 'OperationOutcome' ? (outcome.issue ?? []) : [{ severity: 'error', diagnostics: outcome?.error_description ?? (text.slice(0, 200) || res.statusText) }];
      throw new FhirError(res.status, issues);
    }
    return json as T;
  }

  read(type: string, id: string): Promise<Resource> {
    return this.request('GET', `${type}/${encodeURIComponent(id)}`);
  }

  search(type: string, query: string): Promise<Bundle> {
    return this.request('GET', query ? `${type}?${query}` : type);
  }

  create(resource: Resource): Promise<Resource> {
    return this.request('POST', resource.resourceType, resource, { Prefer: 'return=representation' });
  }

  update(resource: Resource): Promise<Resource> {
    return this.request('PUT', `${resource.resourceType}/${encodeURIComponent(String(resource.id))}`, resource, { Prefer: 'return=representation' });
  }

  delete(type: string, id: string): Promise<unknown> {
    return this.request('DELETE', `${type}/${encodeURIComponent(id)}`);
  }

  history(type: string, id: string): Promise<Bundle> {
    return this.request('GET', `${type}/${encodeURIComponent(id)}/_history?_count=100`);
  }
}
