/**
 * docs/resources.md documents the fields of the project's own resource types; its tables are generated from
 * fhir-definitions/project/ (scripts/build-resource-docs.ts), and this test fails when they drift apart.
 */
import * as fs from 'node:fs';
import path from 'node:path';
import { END_MARKER, RESOURCES_PAGE, START_MARKER, expectedPage, renderResourceReference } from '../../scripts/build-resource-docs';
import { ROOT_DIR } from '../../src/paths';

interface Definition {
  name: string;
  type: string;
  differential: { element: Array<{ path: string }> };
}

const definitions = (
  JSON.parse(fs.readFileSync(path.join(ROOT_DIR, 'fhir-definitions', 'project', 'structure-definitions.json'), 'utf8')) as {
    entry: Array<{ resource: Definition }>;
  }
).entry.map((entry) => entry.resource);

describe('docs/resources.md', () => {
  const page = fs.readFileSync(RESOURCES_PAGE, 'utf8');

  it('holds exactly the tables rendered from fhir-definitions/project/ (run npx tsx scripts/build-resource-docs.ts)', () => {
    expect(page).toContain(START_MARKER);
    expect(page).toContain(END_MARKER);
    expect(page).toBe(expectedPage(page));
  });

  it('has a section per project type and a row per element, User and Membership included', () => {
    const types = definitions.map((sd) => sd.type);
    expect(types).toEqual(expect.arrayContaining(['ClientApplication', 'User', 'Membership', 'AccessPolicy']));
    for (const sd of definitions) {
      expect(page).toContain(`### ${sd.name}\n`);
      for (const element of sd.differential.element) {
        if (element.path === sd.type) continue;
        expect(page).toContain(`| \`${element.path.slice(sd.type.length + 1)}\` |`);
      }
    }
  });

  it('renders cardinality, reference targets and bound values, escaping pipes inside cells', () => {
    const rendered = renderResourceReference(
      [
        {
          name: 'Thing',
          type: 'Thing',
          description: 'A thing.',
          differential: {
            element: [
              { path: 'Thing' },
              { path: 'Thing.kind', min: 1, max: '1', type: [{ code: 'code' }], definition: 'Its kind.', binding: { description: 'a | b' } },
              {
                path: 'Thing.owner',
                min: 0,
                max: '*',
                type: [{ code: 'Reference', targetProfile: ['https://x/StructureDefinition/User', 'https://x/StructureDefinition/Patient'] }],
                definition: 'Who | owns it.',
              },
            ],
          },
        },
      ],
      [{ code: 'kind', base: ['Thing'], type: 'token', expression: 'Thing.kind' }],
    );
    expect(rendered).toContain('| `kind` | 1..1 | code | Its kind. Values: `a`, `b`. |');
    expect(rendered).toContain('| `owner` | 0..* | Reference(User \\| Patient) | Who \\| owns it. |');
    expect(rendered).toContain('`kind` (token, `Thing.kind`)');
  });
});
