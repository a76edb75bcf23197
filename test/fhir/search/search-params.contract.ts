/**
 * Search parameter semantics against hand-worked fixtures, written through the real repository (so indexing runs)
 * and queried through the storage port, so the same cases run on every adapter.
 */
import { FhirRepository, type Resource } from '../../../src/fhir/repository/repository';
import { parameterFilter, UnknownSearchParameterError } from '../../../src/fhir/search';
import type { Storage } from '../../../src/storage/ports';

const PROJECT = 'search/params';
const BASE = 'https://fhir.example.test/w/search/params/api/v1/fhir/r4';
const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';

/** Resources with hand-worked search results (also the corpus of fast-path.test.ts). */
export const FIXTURES: Resource[] = [
  { resourceType: 'Patient', id: 'p1', name: [{ family: 'Dupont', given: ['Éloïse'] }], birthDate: '1980-05-15', gender: 'female', identifier: [{ system: 'sys-a', value: '111' }], active: true,
    meta: { tag: [{ system: 'urn:tags', code: 'vip' }], profile: ['http://ex.org/StructureDefinition/p'], security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }] } },
  { resourceType: 'Patient', id: 'p2', name: [{ family: 'Martin', given: ['Eloise'] }], birthDate: '1980', gender: 'male', identifier: [{ system: 'sys-b', value: '111' }] },
  { resourceType: 'Patient', id: 'p3', name: [{ family: 'a.*b' }], birthDate: '1990-01-01', gender: 'other', identifier: [{ value: '111' }] },
  {
    resourceType: 'Observation', id: 'o1', status: 'final', subject: { reference: 'Patient/p1' },
    code: { coding: [{ system: LOINC, code: '8480-6' }], text: 'Systolic BP' },
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
    valueQuantity: { value: 120, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' }, effectiveDateTime: '2020-03-01T10:00:00+02:00',
  },
  {
    resourceType: 'Observation', id: 'o2', status: 'final', subject: { reference: 'Patient/p2' },
    code: { coding: [{ system: LOINC, code: '2339-0' }] },
    valueQuantity: { value: 100.2, unit: 'mg/dL' }, effectivePeriod: { start: '2020-02-01', end: '2020-03-31' },
  },
  {
    resourceType: 'Observation', id: 'o3', status: 'final', subject: { reference: 'https://other.example/fhir/Patient/p9' },
    code: { coding: [{ system: 'sys-x', code: 'abc' }] }, valueString: 'high', effectiveDateTime: '2021',
  },
  {
    resourceType: 'Observation', id: 'o4', status: 'final', code: { text: 'free text code' },
    component: [{ code: { coding: [{ system: LOINC, code: '8462-4' }] }, valueQuantity: { value: 80, system: UCUM, code: 'mm[Hg]' } }],
  },
  {
    resourceType: 'Observation', id: 'o5', status: 'final', subject: { reference: 'Patient/p3' }, code: { coding: [{ system: LOINC, code: '85354-9' }] },
    component: [
      { code: { coding: [{ system: LOINC, code: '8480-6' }] }, valueQuantity: { value: 130, system: UCUM, code: 'mm[Hg]' } },
      { code: { coding: [{ system: LOINC, code: '8462-4' }] }, valueQuantity: { value: 85, system: UCUM, code: 'mm[Hg]' } },
    ],
  },
  { resourceType: 'RiskAssessment', id: 'r1', status: 'final', subject: { reference: 'Patient/p1' }, prediction: [{ probabilityDecimal: 100 }] },
  { resourceType: 'RiskAssessment', id: 'r2', status: 'final', subject: { reference: 'Patient/p1' }, prediction: [{ probabilityDecimal: 100.4 }] },
  { resourceType: 'RiskAssessment', id: 'r3', status: 'final', subject: { reference: 'Patient/p1' }, prediction: [{ probabilityDecimal: 101 }] },
  { resourceType: 'ValueSet', id: 'vs1', status: 'active', url: 'http://ex.org/fhir/ValueSet/a' },
  { resourceType: 'ValueSet', id: 'vs2', status: 'active', url: 'http://ex.org/fhir/ValueSet/a/b' },
];

/** [type, parameter, value, expected ids] worked out by hand from the fixtures above. */
const CASES: Array<[string, string, string, string[]]> = [
  // string: prefix, case- and accent-insensitive; :exact; :contains; literal regex characters
  ['Patient', 'name', 'elo', ['p1', 'p2']],
  ['Patient', 'name', 'ÉLOÏSE', ['p1', 'p2']],
  ['Patient', 'name:exact', 'Eloise', ['p2']],
  ['Patient', 'name:contains', 'PON', ['p1']],
  ['Patient', 'family', 'a.*', ['p3']],
  ['Patient', 'family', 'a.', ['p3']],
  ['Patient', 'family', '.*', []],
  ['Patient', 'name', 'elo,mar', ['p1', 'p2']],
  // token
  ['Patient', 'gender', 'female', ['p1']],
  ['Patient', 'gender', 'female,other', ['p1', 'p3']],
  ['Patient', 'identifier', '111', ['p1', 'p2', 'p3']],
  ['Patient', 'identifier', 'sys-a|111', ['p1']],
  ['Patient', 'identifier', '|111', ['p3']],
  ['Patient', 'identifier', 'sys-b|', ['p2']],
  ['Patient', 'active', 'true', ['p1']],
  ['Patient', 'active:not', 'true', ['p2', 'p3']],
  ['Patient', 'active:missing', 'true', ['p2', 'p3']],
  ['Patient', 'active:missing', 'false', ['p1']],
  ['Observation', 'code:text', 'systolic', ['o1']],
  ['Observation', 'code:text', 'FREE', ['o4']],
  ['Observation', 'code', `${LOINC}|8480-6`, ['o1']],
  ['Observation', 'category', 'vital-signs', ['o1']],
  // reference
  ['Observation', 'subject', 'Patient/p1', ['o1']],
  ['Observation', 'subject', 'p2', ['o2']],
  ['Observation', 'patient', 'p1', ['o1']],
  ['Observation', 'subject:Patient', 'p1', ['o1']],
  ['Observation', 'subject', `${BASE}/Patient/p1`, ['o1']],
  ['Observation', 'subject', 'https://other.example/fhir/Patient/p9', ['o3']],
  ['Observation', 'subject:missing', 'true', ['o4']],
  // date: precision-aware ranges, partial dates, timezones, Periods
  ['Patient', 'birthdate', '1980', ['p1', 'p2']],
  ['Patient', 'birthdate', '1980-05', ['p1']],
  ['Patient', 'birthdate', 'gt1985', ['p3']],
  ['Patient', 'birthdate', 'lt1985', ['p1', 'p2']],
  ['Patient', 'birthdate', 'ge1980-06', ['p2', 'p3']],
  ['Patient', 'birthdate', 'le1980-01-15', ['p2']],
  ['Patient', 'birthdate', 'sa1980-06-30', ['p3']],
  ['Patient', 'birthdate', 'eb1981', ['p1', 'p2']],
  ['Patient', 'birthdate', 'ne1980', ['p3']],
  ['Patient', 'birthdate', 'ap1990-01-01', ['p3']],
  ['Observation', 'date', '2020-03-01', ['o1']],
  ['Observation', 'date', '2020-03', ['o1']],
  ['Observation', 'date', 'ge2020-03-15', ['o2', 'o3']],
  ['Observation', 'date', 'le2020-02-15', ['o2']],
  ['Observation', 'date', '2020-03-01T09:00:00+01:00', ['o1']],
  ['Observation', 'date', '2020-03-01T10:00:00Z', []],
  // number: implied precision of the search value
  ['RiskAssessment', 'probability', '100', ['r1', 'r2']],
  ['RiskAssessment', 'probability', '100.0', ['r1']],
  ['RiskAssessment', 'probability', '1e2', ['r1', 'r2', 'r3']],
  ['RiskAssessment', 'probability', 'gt100', ['r2', 'r3']],
  ['RiskAssessment', 'probability', 'le100.4', ['r1', 'r2']],
  // quantity
  ['Observation', 'value-quantity', '120', ['o1']],
  ['Observation', 'value-quantity', `gt110|${UCUM}|mm[Hg]`, ['o1']],
  ['Observation', 'value-quantity', '100.2||mg/dL', ['o2']],
  ['Observation', 'value-quantity', 'lt50', []],
  // composite
  ['Observation', 'code-value-quantity', `${LOINC}|8480-6$gt100`, ['o1']],
  ['Observation', 'code-value-quantity', `${LOINC}|8480-6$lt100`, []],
  ['Observation', 'component-code-value-quantity', `${LOINC}|8462-4$80`, ['o4']],
  // several components: each component's value, paired with its own code
  ['Observation', 'component-value-quantity', '85', ['o5']],
  ['Observation', 'component-code-value-quantity', `${LOINC}|8480-6$130`, ['o5']],
  ['Observation', 'component-code-value-quantity', `${LOINC}|8480-6$85`, []],
  // uri
  ['ValueSet', 'url', 'http://ex.org/fhir/ValueSet/a', ['vs1']],
  ['ValueSet', 'url:below', 'http://ex.org/fhir/ValueSet/a', ['vs1', 'vs2']],
  ['ValueSet', 'url:above', 'http://ex.org/fhir/ValueSet/a/b', ['vs1', 'vs2']],
  // special
  ['Patient', '_id', 'p1,p3', ['p1', 'p3']],
  ['Patient', '_lastUpdated', 'gt2000', ['p1', 'p2', 'p3']],
  ['Patient', '_lastUpdated', 'lt2000', []],
  ['Patient', '_tag', 'urn:tags|vip', ['p1']],
  ['Patient', '_tag:not', 'vip', ['p2', 'p3']],
  ['Patient', '_profile', 'http://ex.org/StructureDefinition/p', ['p1']],
  ['Patient', '_security', 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality|R', ['p1']],
  // choice types: value[x] as string
  ['Observation', 'value-string', 'HI', ['o3']],
];

/**
 * Registers the search parameter cases.
 * @param name - the adapter name
 * @param open - opens a fresh storage
 * @param cleanup - removes what open created
 */
export function searchParamsContract(name: string, open: () => Promise<Storage>, cleanup?: (s: Storage) => Promise<void>): void {
  describe(`search parameters (${name})`, () => {
    let storage: Storage;
    beforeAll(async () => {
      storage = await open();
      const repo = new FhirRepository(storage.resources, PROJECT);
      for (const resource of FIXTURES) await repo.update(resource.resourceType, resource.id as string, resource);
    });
    afterAll(async () => {
      await cleanup?.(storage);
      await storage.close();
    });

    it.each(CASES)('%s?%s=%s', async (type, parameter, value, expected) => {
      const fragment = parameterFilter(type, parameter, value, { baseUrl: BASE });
      const docs = await storage.resources.search({ project: PROJECT, type, $and: [fragment ?? {}] });
      expect(docs.map((d) => d.id).sort()).toEqual(expected);
    });

    it('treats parameter names from the URL as names, never as operators', () => {
      expect(() => parameterFilter('Patient', 'name[$ne]', 'x', { baseUrl: BASE })).toThrow(UnknownSearchParameterError);
      expect(() => parameterFilter('Patient', '$where', '1', { baseUrl: BASE })).toThrow(UnknownSearchParameterError);
      const filter = parameterFilter('Patient', 'name', '{"$where":"1"}', { baseUrl: BASE });
      expect(JSON.stringify(filter, (_k, v: unknown) => (v instanceof RegExp ? v.source : v))).toContain('\\\\{\\"\\\\$where');
    });

    it('rejects invalid values with 400 naming the parameter', () => {
      for (const [type, parameter, value] of [
        ['Patient', 'birthdate', '1980-13'],
        ['Patient', 'birthdate', 'xx1980'],
        ['RiskAssessment', 'probability', 'ten'],
        ['Observation', 'value-quantity', '1|2'],
        ['Patient', 'gender:exact', 'x'],
        ['Patient', 'active:missing', 'maybe'],
        ['Observation', 'code-value-quantity', 'x'],
      ] as const) {
        let error: unknown;
        try {
          parameterFilter(type, parameter, value, { baseUrl: BASE });
        } catch (err) {
          error = err;
        }
        expect(error).toMatchObject({ status: 400, issues: [expect.objectContaining({ expression: [parameter] })] });
      }
    });
  });
}
