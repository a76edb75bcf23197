/**
 * Renders the element and search-parameter tables of the project's own resource types (ClientApplication, User,
 * Membership, AccessPolicy, IdentityProvider, ...) from fhir-definitions/project/ into docs/resources.md, between
 * its two markers. The text around the markers is hand-written; the tables are never edited by hand.
 *
 *   npx tsx scripts/build-resource-docs.ts           rewrites the tables of docs/resources.md
 *   npx tsx scripts/build-resource-docs.ts --check   exits 1 when docs/resources.md is out of date
 *
 * test/docs/resources-reference.test.ts fails when the committed page differs from what this renders.
 */
import * as fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
export const RESOURCES_PAGE = path.join(ROOT, 'docs', 'resources.md');
export const START_MARKER = '<!-- resource-reference:start — generated from fhir-definitions/project/ by `npx tsx scripts/build-resource-docs.ts`; do not edit by hand -->';
export const END_MARKER = '<!-- resource-reference:end -->';

interface ElementDefinition {
  path: string;
  short?: string;
  definition?: string;
  min?: number;
  max?: string;
  type?: Array<{ code: string; targetProfile?: string[] }>;
  binding?: { strength?: string; description?: string };
}

interface StructureDefinition {
  name: string;
  type: string;
  description?: string;
  differential?: { element: ElementDefinition[] };
  snapshot?: { element: ElementDefinition[] };
}

interface SearchParameter {
  code: string;
  base: string[];
  type: string;
  expression?: string;
  description?: string;
}

interface Bundle<T> {
  entry?: Array<{ resource: T }>;
}

function readBundle<T>(file: string): T[] {
  const bundle = JSON.parse(fs.readFileSync(path.join(ROOT, 'fhir-definitions', 'project', file), 'utf8')) as Bundle<T>;
  return (bundle.entry ?? []).map((entry) => entry.resource);
}

/** A Markdown table cell: pipes escaped, line breaks folded. */
function cell(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/\|/g, '\\|').trim();
}

function typeOf(element: ElementDefinition): string {
  const codes = (element.type ?? []).map((t) => {
    const targets = (t.targetProfile ?? []).map((url) => url.slice(url.lastIndexOf('/') + 1));
    return targets.length > 0 ? `${t.code}(${targets.join(' \\| ')})` : t.code;
  });
  return codes.join(' \\| ');
}

function meaning(element: ElementDefinition): string {
  const text = element.definition ?? element.short ?? '';
  const values = element.binding?.description;
  const codes = values && /^[\w-]+( \| [\w-]+)+$/.test(values) ? ` Values: ${values.split(' | ').map((v) => `\`${v}\``).join(', ')}.` : '';
  return cell(text) + codes;
}

/**
 * The generated part of docs/resources.md.
 * @param definitions - the project StructureDefinitions
 * @param searchParameters - the project SearchParameters
 * @returns Markdown, without the markers
 */
export function renderResourceReference(definitions: StructureDefinition[], searchParameters: SearchParameter[]): string {
  const out: string[] = [];
  for (const sd of definitions) {
    const elements = (sd.differential ?? sd.snapshot)?.element ?? [];
    out.push(`### ${sd.name}`, '');
    if (sd.description) out.push(cell(sd.description), '');
    out.push('| element | cardinality | type | meaning |', '|---|---|---|---|');
    for (const element of elements) {
      if (element.path === sd.type) continue;
      const name = element.path.slice(sd.type.length + 1);
      out.push(`| \`${name}\` | ${String(element.min ?? 0)}..${element.max ?? '*'} | ${typeOf(element)} | ${meaning(element)} |`);
    }
    out.push('');
    const params = searchParameters.filter((sp) => sp.base.includes(sd.type));
    if (params.length > 0) {
      out.push(
        `Search parameters (besides \`_id\`, \`_lastUpdated\` and the other common ones): ${params
          .map((sp) => `\`${sp.code}\` (${sp.type}${sp.expression ? `, \`${sp.expression}\`` : ''})`)
          .join(', ')}.`,
        '',
      );
    }
  }
  return out.join('\n');
}

/** What docs/resources.md should hold, given its current text (whose hand-written parts are kept). */
export function expectedPage(current: string): string {
  const start = current.indexOf(START_MARKER);
  const end = current.indexOf(END_MARKER);
  if (start < 0 || end < start) throw new Error(`${RESOURCES_PAGE} lacks the markers ${START_MARKER} … ${END_MARKER}`);
  const generated = renderResourceReference(
    readBundle<StructureDefinition>('structure-definitions.json'),
    readBundle<SearchParameter>('search-parameters.json'),
  );
  return `${current.slice(0, start)}${START_MARKER}\n\n${generated}\n${current.slice(end)}`;
}

function main(): void {
  const current = fs.readFileSync(RESOURCES_PAGE, 'utf8');
  const expected = expectedPage(current);
  if (process.argv.includes('--check')) {
    if (expected !== current) {
      process.stderr.write(`${RESOURCES_PAGE} is out of date: run npx tsx scripts/build-resource-docs.ts\n`);
      process.exit(1);
    }
    return;
  }
  fs.writeFileSync(RESOURCES_PAGE, expected);
}

if (require.main === module) main();
