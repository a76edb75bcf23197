/** The pure helpers: JSON element spans, search queries, the policy trace tree, the history diff. */
import { describe, expect, it } from 'vitest';
import { diffLines } from '../diff';
import { jsonSpans, locate } from '../json-paths';
import { buildQuery, parseQuery } from '../search-query';
import { readEvaluation } from '../trace';

describe('json-paths', () => {
  const text = JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Curie', given: ['Marie', 'S'] }], birthDate: 'x' }, null, 2);
  const spans = jsonSpans(text, 'Patient');
  it('locates elements, array items and the nearest existing ancestor', () => {
    const at = (e: string) => {
      const s = locate(spans, e);
      return s ? text.slice(s.from, s.to) : undefined;
    };
    expect(at('Patient.birthDate')).toBe('"birthDate": "x"');
    expect(at('Patient.name[0].given[1]')).toBe('"S"');
    expect(at('Patient.name.family')).toBe('"family": "Curie"');
    expect(at('Patient.name[0].period.start')).toMatch(/^\{/);
    expect(at('Observation.code')).toBeUndefined();
  });
  it('keeps what parsed before a syntax error', () => {
    expect(locate(jsonSpans('{"resourceType": "Patient", "gender": "x", oops', 'Patient'), 'Patient.gender')).toEqual({ from: 28, to: 41 });
  });
});

describe('search-query', () => {
  const typeOf = (n: string) => ({ identifier: 'token', birthdate: 'date', name: 'string' })[n];
  it('builds typed values and reads them back', () => {
    const filters = [
      { name: 'identifier', prefix: 'urn:mrn', value: '42' },
      { name: 'birthdate', prefix: 'ge', value: '1990-01-01' },
      { name: 'name', prefix: '', value: 'Ada' },
      { name: 'name', prefix: '', value: ' ' },
    ];
    const query = buildQuery(filters, { count: '20', include: ['Patient:organization'], sort: '-_lastUpdated', other: [] }, typeOf);
    expect(query).toBe('identifier=urn%3Amrn%7C42&birthdate=ge1990-01-01&name=Ada&_include=Patient%3Aorganization&_sort=-_lastUpdated&_count=20');
    const back = parseQuery(query, typeOf);
    expect(back.filters).toEqual(filters.slice(0, 3));
    expect(back.controls).toEqual({ count: '20', include: ['Patient:organization'], sort: '-_lastUpdated', other: [] });
  });
});

describe('trace', () => {
  it('nests rules under their policy and parent rule', () => {
    const part = (policy: string, rule: string | undefined, result: string) => ({
      name: 'trace',
      part: [
        { name: 'policy', valueReference: { reference: policy } },
        ...(rule ? [{ name: 'rule', valueString: rule }] : []),
        { name: 'result', valueCode: result },
      ],
    });
    const evaluation = readEvaluation({
      parameter: [
        { name: 'decision', valueCode: 'deny' },
        part('AccessPolicy/a', undefined, 'no-effect'),
        part('AccessPolicy/a', 'AccessPolicy.rule[0]', 'no-effect'),
        part('AccessPolicy/a', 'AccessPolicy.rule[0].rule[0]', 'condition-false'),
        part('AccessPolicy/b', 'AccessPolicy.rule[0]', 'not-applicable'),
      ],
    });
    expect(evaluation.decision).toBe('deny');
    expect(evaluation.policies.map((p) => [p.label, p.result, p.children.map((c) => [c.label, c.children.map((g) => [g.label, g.result])])])).toEqual([
      ['AccessPolicy/a', 'no-effect', [['rule[0]', [['rule[0].rule[0]', 'condition-false']]]]],
      ['AccessPolicy/b', undefined, [['rule[0]', []]]],
    ]);
  });
});

describe('diff', () => {
  it('marks added and removed lines', () => {
    expect(diffLines('a\nb\nc', 'a\nc\nd')).toEqual([
      { kind: 'same', text: 'a' },
      { kind: 'del', text: 'b' },
      { kind: 'same', text: 'c' },
      { kind: 'add', text: 'd' },
    ]);
  });
});
