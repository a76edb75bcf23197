/**
 * The direct evaluator of `%resource.<path>[.where(<element> = '<literal>')].exists()` / `.empty()` policy tests
 * (src/policy/direct-test.ts) must answer what the FHIRPath engine answers, for every resource of a corpus with
 * labels, choice types, arrays, primitive extensions (`_birthDate`), project types and a missing `%resource`.
 */
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';
import demo from '../../seed/demo.json';
import { directResourceTest } from '../../src/policy/direct-test';
import { compileExpression } from '../../src/policy/expression';
import { FIXTURES } from '../fhir/search/search-params.contract';

type Json = Record<string, unknown>;

const EXTENSION = { extension: [{ url: 'http://example.org/x', valueString: 'x' }] };

const EXTRA: Json[] = [
  { resourceType: 'Patient', id: 'r', meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }] } },
  { resourceType: 'Patient', id: 'n', meta: { security: [{ code: 'N' }, { code: 'R', system: 's' }], tag: [{ code: 't' }] } },
  { resourceType: 'Patient', id: 'e', meta: { security: [{ _code: EXTENSION }] } },
  { resourceType: 'Patient', id: 'b', _birthDate: EXTENSION },
  { resourceType: 'Patient', id: 'bb', birthDate: '2000-01-01', _birthDate: EXTENSION },
  { resourceType: 'Patient', id: 'd', deceasedBoolean: false, active: false, name: [{ given: ['A'], _given: [EXTENSION] }] },
  { resourceType: 'Patient', id: 'em', meta: {}, telecom: [], identifier: [{ system: 'urn:x', value: '1' }] },
  { resourceType: 'Observation', id: 'o', status: 'final', code: { text: 'x' }, valueQuantity: { value: 1 }, subject: { reference: 'Patient/r' } },
  { resourceType: 'Observation', id: 'os', status: 'final', code: { text: 'x' }, valueString: 'v', meta: { security: [{ code: 'R' }] } },
  { resourceType: 'ClientApplication', id: 'c', name: 'c', meta: { security: [{ code: 'R' }] } },
  { resourceType: 'Nope', id: 'x', meta: { security: [{ code: 'R' }] } },
];

const corpus: Array<Json | undefined> = [undefined, ...(FIXTURES as Json[]), ...(demo as { entry: Array<{ resource: Json }> }).entry.map((e) => e.resource), ...EXTRA];

const EXPRESSIONS = [
  "%resource.meta.security.where(code = 'R').exists()",
  "%resource.meta.security.where(code = 'R').empty()",
  "%resource.meta.security.where(system = 's').exists()",
  "%resource.meta.tag.where(code='t').exists()",
  '%resource.meta.security.exists()',
  '%resource.meta.exists()',
  '%resource.birthDate.exists()',
  '%resource.birthDate.empty()',
  '%resource.name.given.exists()',
  '%resource.deceased.exists()',
  '%resource.value.exists()',
  '%resource.telecom.exists()',
  "%resource.identifier.where(system = 'urn:x').exists()",
  "%resource.subject.where(reference = 'Patient/r').exists()",
  '%resource.nope.exists()',
];

const engineOf = (source: string) => {
  const fn = fhirpath.compile(source, r4 as never) as unknown as (focus: unknown, env: Json) => unknown[];
  return (resource: Json | undefined) => fn([], { resource });
};

describe('direct evaluation of %resource presence tests', () => {
  it('answers exactly what the FHIRPath engine answers', () => {
    const mismatches: string[] = [];
    for (const source of EXPRESSIONS) {
      const compiled = compileExpression(source, 'AccessPolicy.rule[0].target', { resourceLevel: true, attributes: new Set() }).expression;
      expect(compiled).toBeDefined();
      const engine = engineOf(source);
      for (const resource of corpus) {
        const env = { resource, before: undefined, request: { interaction: 'read', parameters: [] } };
        const got = compiled?.evaluate(undefined, env);
        const want = engine(resource);
        if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`${source} on ${JSON.stringify(resource)}: ${JSON.stringify(got)} ≠ ${JSON.stringify(want)}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('answers without the engine for resources of the R4 types, and leaves the rest to it', () => {
    const calls: unknown[] = [];
    const engine = (focus: unknown, env: Readonly<Json>) => {
      calls.push(env.resource);
      return ['engine'];
    };
    const test = directResourceTest("%resource.meta.security.where(code = 'R').exists()", engine);
    expect(test).toBeDefined();
    expect(test?.(undefined, { resource: EXTRA[0] })).toEqual([true]);
    expect(test?.(undefined, { resource: EXTRA[1] })).toEqual([true]);
    expect(test?.(undefined, { resource: { resourceType: 'Patient', id: 'p' } })).toEqual([false]);
    expect(test?.(undefined, { resource: undefined })).toEqual([false]);
    expect(calls).toEqual([]);
    // A project type, a primitive extension on the way: the engine decides.
    expect(test?.(undefined, { resource: EXTRA[9] })).toEqual(['engine']);
    const withExtension = { resourceType: 'Patient', meta: { _security: [EXTENSION] } };
    expect(test?.(undefined, { resource: withExtension })).toEqual(['engine']);
    expect(calls).toEqual([EXTRA[9], withExtension]);
  });

  it('takes only the exact form', () => {
    const engine = () => [];
    for (const source of [
      "%resource.meta.security.where(code = 'R' or code = 'V').exists()",
      "%resource.meta.security.where(code = 'R').exists() and %request.interaction = 'read'",
      "%before.meta.security.where(code = 'R').exists()",
      "%resource.meta.security.where(code = 'R').count() > 0",
      '%resource.meta.security.first().exists()',
      "%resource.meta.security.where(code = %x).exists()",
    ]) {
      expect({ source, direct: directResourceTest(source, engine) }).toEqual({ source, direct: undefined });
    }
  });
});
