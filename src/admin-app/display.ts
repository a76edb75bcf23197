/** A one-line description of a resource for tables and pickers. */
import type { Resource } from './fhir';

function humanName(name: unknown): string | undefined {
  const first = (Array.isArray(name) ? name[0] : name) as { text?: string; family?: string; given?: string[] } | undefined;
  if (!first || typeof first !== 'object') return undefined;
  return first.text ?? ([...(first.given ?? []), first.family].filter(Boolean).join(' ') || undefined);
}

/**
 * A short label of a resource: its name, title, email, code or description.
 * @param resource - the resource
 * @returns the label ('' when nothing fits)
 */
export function describe(resource: Resource): string {
  const r = resource as Record<string, unknown>;
  if (typeof r.name === 'string') return r.name;
  const human = humanName(r.name);
  if (human) return human;
  for (const key of ['title', 'email', 'description', 'status']) if (typeof r[key] === 'string') return r[key];
  const code = r.code as { text?: string; coding?: Array<{ display?: string; code?: string }> } | undefined;
  if (code?.text || code?.coding?.[0]) return code.text ?? code.coding?.[0]?.display ?? code.coding?.[0]?.code ?? '';
  const user = r.user as { reference?: string } | undefined;
  if (user?.reference) return user.reference;
  return '';
}

/**
 * A cell value: the element's JSON, shortened.
 * @param value - the element
 * @returns the text
 */
export function cell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}
