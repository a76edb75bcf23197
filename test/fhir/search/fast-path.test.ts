/**
 * The direct evaluator of simple SearchParameter terms (src/fhir/search/indexing/fast-path.ts) must return what
 * the FHIRPath engine returns, for every R4 SearchParameter (and composite component) it takes, over a corpus of
 * resources with choice types, arrays, references of several kinds and missing values.
 */
import demo from '../../../seed/demo.json';
import { getSearchParameters, PROJECT_RESOURCE_TYPES } from '../../../src/fhir/definitions';
import { compileWithEngine, narrowToType, unionTerms } from '../../../src/fhir/search/indexing/compile';
import { compileFastPath, compileRelativeFastPath } from '../../../src/fhir/search/indexing/fast-path';
import { FIXTURES } from './search-params.contract';

type Json = Record<string, unknown>;

const EXTRA: Json[] = [
  {
    resourceType: 'Observation', id: 'x1', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '1' }, { code: '2' }], text: 'T' },
    subject: { reference: 'Group/g1' }, focus: [{ reference: 'Patient/p1' }, { reference: 'Device/d1' }], effectivePeriod: { start: '2020-01-01' },
    valueCodeableConcept: { coding: [{ system: 's', code: 'c' }] }, performer: [{ reference: 'Practitioner/pr1' }, { reference: 'Patient/p2' }, { display: 'x' }],
    component: [
      { code: { coding: [{ code: 'a' }] }, valueQuantity: { value: 1, unit: 'u' } },
      { code: { coding: [{ code: 'b' }] }, valueCodeableConcept: { text: 'v' } },
      { code: { text: 'no value' }, dataAbsentReason: { coding: [{ code: 'unknown' }] } },
    ],
    meta: { tag: [{ system: 't', code: '1' }], security: [{ code: 'R' }], profile: ['http://p'] },
  },
  { resourceType: 'Condition', id: 'c1', subject: { reference: 'Patient/p1' }, onsetAge: { value: 5, unit: 'a' }, abatementString: 'later', recordedDate: '2021-02', code: { text: 'x' }, evidence: [{ detail: [{ reference: 'Observation/o1' }] }] },
  { resourceType: 'Condition', id: 'c2', subject: { reference: 'https://else.example/Patient/1' }, onsetPeriod: { end: '2020' }, abatementDateTime: '2020-05-05T10:00:00+02:00' },
  { resourceType: 'MedicationRequest', id: 'm1', status: 'active', intent: 'order', subject: { reference: 'Patient/p1' }, medicationCodeableConcept: { coding: [{ code: 'med' }] }, authoredOn: '2020', dosageInstruction: [{ timing: { event: ['2020-01-01', '2020-02-01'] } }] },
  { resourceType: 'MedicationRequest', id: 'm2', status: 'active', intent: 'order', subject: { reference: 'Group/1' }, medicationReference: { reference: 'Medication/med1' } },
  { resourceType: 'Encounter', id: 'e1', status: 'finished', class: { code: 'AMB' }, subject: { reference: 'Patient/p1' }, period: { start: '2020-01-01T10:00:00Z', end: '2020-01-01T11:00:00Z' }, participant: [{ individual: { reference: 'Practitioner/pr1' } }], length: { value: 60, unit: 'min' } },
  { resourceType: 'Patient', id: 'px', deceasedDateTime: '2020', link: [{ other: { reference: 'Patient/p1' }, type: 'seealso' }], generalPractitioner: [{ reference: 'Organization/o1' }, { reference: 'Practitioner/pr1' }], telecom: [{ system: 'email', value: 'a@b.c' }, { system: 'phone', value: '1' }, { value: 'none' }, { system: 'Email', value: 'E' }], address: [{ city: 'X', line: ['1', '2'] }], _birthDate: { extension: [{ url: 'u', valueString: 'v' }] } },
  { resourceType: 'Patient', id: 'py', deceasedBoolean: false, active: false, name: [{ text: 'A B', given: ['A', 'C'] }, { family: 'B' }] },
  { resourceType: 'Patient', id: 'pz', deceasedBoolean: true },
  { resourceType: 'Patient', id: 'pn', deceasedBoolean: null },
  { resourceType: 'RiskAssessment', id: 'ra', status: 'final', subject: { reference: 'Patient/p1' }, prediction: [{ probabilityRange: { low: { value: 1 }, high: { value: 2 } } }, { probabilityDecimal: 0.5 }] },
];

const corpus: Json[] = [...(FIXTURES as Json[]), ...((demo as { entry: Array<{ resource: Json }> }).entry.map((e) => e.resource)), ...EXTRA];

const dedupe = (values: unknown[]): string[] => [...new Set(values.map((v) => JSON.stringify(v)))];

describe('fast path evaluation of SearchParameter expressions', () => {
  it('equals the FHIRPath engine for every expression it takes, and takes most of them', () => {
    let taken = 0;
    let total = 0;
    let refused = 0;
    const mismatches: string[] = [];
    for (const resource of corpus) {
      const type = resource.resourceType as string;
      // The engine's model does not know the project's own types (so it finds nothing under `Resource.`).
      if (PROJECT_RESOURCE_TYPES.has(type)) continue;
      for (const param of getSearchParameters(type)) {
        if (!param.expression) continue;
        const narrowed = narrowToType(param.expression, type);
        if (narrowed === undefined) continue;
        total++;
        const engine = compileWithEngine(narrowed);
        const fast = compileFastPath(unionTerms(narrowed), type);
        if (!fast || !engine) continue;
        taken++;
        let engineValues: unknown[];
        try {
          engineValues = engine(resource);
        } catch {
          // R4 writes `(Observation.component.value as Quantity)`; the engine refuses `as` on several values,
          // while the direct evaluator returns each component's value, which is what the parameter means.
          refused++;
          continue;
        }
        const expected = dedupe(engineValues);
        const actual = dedupe(fast(resource));
        if (JSON.stringify(actual) !== JSON.stringify(expected)) mismatches.push(`${type}.${param.code} on ${String(resource.id)}: ${narrowed}\n  fast ${JSON.stringify(actual)}\n  engine ${JSON.stringify(expected)}`);
        const base = param.type === 'composite' && /^[A-Z][A-Za-z]+(\.[a-z][A-Za-z]*)*$/.test(param.expression) ? param.expression : undefined;
        for (const component of base ? (param.component ?? []) : []) {
          const relative = compileRelativeFastPath(component.expression, base as string);
          const relativeEngine = compileWithEngine(component.expression, base);
          if (!relative || !relativeEngine) continue;
          for (const element of engineValues) {
            const want = dedupe(relativeEngine(element));
            const got = dedupe(relative(element as Json));
            if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`${type}.${param.code} component ${component.expression}: fast ${JSON.stringify(got)} engine ${JSON.stringify(want)}`);
          }
        }
      }
    }
    expect(mismatches).toEqual([]);
    expect(taken / total).toBeGreaterThan(0.8);
    expect(refused).toBeLessThan(taken / 10);
  });

  it('leaves functions, operators and unknown elements to the engine', () => {
    expect(compileFastPath(["Patient.telecom.where(system = 'email' or system = 'phone')"], 'Patient')).toBeUndefined();
    expect(compileFastPath(["Patient.telecom.where(period = 'x')"], 'Patient')).toBeUndefined();
    expect(compileFastPath(['Patient.deceased.exists() and Patient.name != false'], 'Patient')).toBeUndefined();
    expect(compileFastPath(['Patient.deceased.exists() or Patient.deceased != false'], 'Patient')).toBeUndefined();
    expect(compileFastPath(['Patient.nope'], 'Patient')).toBeUndefined();
    expect(compileFastPath(['(Observation.value as Nope)'], 'Observation')).toBeUndefined();
    expect(compileFastPath(['ClientApplication.name'], 'ClientApplication')).toBeUndefined();
    expect(compileFastPath(['Patient.name', 'Practitioner.name'], 'Patient')?.({ resourceType: 'Patient', name: [{ family: 'x' }] })).toEqual([{ family: 'x' }]);
  });

  it("keeps the elements whose primitive child equals a literal: where(system='email')", () => {
    const fast = compileFastPath(["Patient.telecom.where(system='email')"], 'Patient');
    const telecom = [{ system: 'email', value: 'a@b.c' }, { system: 'phone', value: '1' }, { value: 'no system' }, { system: 'Email', value: 'case' }];
    expect(fast?.({ resourceType: 'Patient', telecom })).toEqual([{ system: 'email', value: 'a@b.c' }]);
  });

  it('evaluates Patient.deceased (exists() and != false) as the engine does', () => {
    const [param] = getSearchParameters('Patient').filter((p) => p.code === 'deceased');
    const expression = param?.expression as string;
    const fast = compileFastPath([expression], 'Patient');
    const engine = compileWithEngine(expression);
    expect(fast).toBeDefined();
    for (const extra of [{}, { deceasedBoolean: true }, { deceasedBoolean: false }, { deceasedDateTime: '2020-01-01' }, { deceasedBoolean: null }]) {
      const patient = { resourceType: 'Patient', ...extra };
      expect({ extra, values: fast?.(patient) }).toEqual({ extra, values: engine?.(patient) });
    }
    expect(fast?.({ resourceType: 'Patient', deceasedBoolean: true })).toEqual([true]);
    expect(fast?.({ resourceType: 'Patient' })).toEqual([false]);
  });

  it('reads the Resource elements of the project types, which the engine model does not know', () => {
    const fast = compileFastPath(['Resource.meta.tag'], 'ClientApplication');
    expect(fast?.({ resourceType: 'ClientApplication', meta: { tag: [{ code: 'x' }] } })).toEqual([{ code: 'x' }]);
  });
});
