/**
 * HTML building blocks for the interaction pages. Every dynamic value goes through {@link escapeHtml}; the
 * `html` tagged template escapes interpolations unless they are already {@link SafeHtml}, so markup can only
 * come from this codebase, never from a request or a stored resource.
 */

/** A fragment of markup that is already safe to emit. */
export class SafeHtml {
  /** @param value - trusted markup */
  constructor(readonly value: string) {}

  /** @returns the markup */
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/**
 * Escapes text for use in element content and quoted attribute values.
 * @param value - untrusted text
 * @returns the escaped text
 */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (ch) => ESCAPES[ch] ?? ch);
}

type Interpolation = SafeHtml | string | number | undefined | null | false | Interpolation[];

function render(value: Interpolation): string {
  if (value === undefined || value === null || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/**
 * Tagged template producing {@link SafeHtml}: literal parts are kept, interpolations are escaped (arrays are
 * joined; `undefined`, `null` and `false` render as nothing).
 * @param strings - the literal parts
 * @param values - the interpolated values
 * @returns the markup
 */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return new SafeHtml(out);
}
