/** Parsing of the kick-off parameters (src/fhir/bulk/export-request.ts); the HTTP answers are in test/bulk. */
import { parseExportRequest, prefersAsync, prefersLenient } from '../../../src/fhir/bulk/export-request';
import { BadRequestError } from '../../../src/fhir/errors';
import type { FhirRequest } from '../../../src/fhir/rest/fhir-request';

function request(query: Array<[string, string]>, options: { method?: string; body?: unknown; prefer?: string } = {}): FhirRequest {
  return { method: options.method ?? 'GET', path: ['$export'], query, body: options.body, headers: { prefer: options.prefer ?? 'respond-async' } };
}

describe('Prefer', () => {
  it('finds respond-async and handling=lenient among other preferences', () => {
    expect(prefersAsync('respond-async')).toBe(true);
    expect(prefersAsync('handling=lenient, respond-async')).toBe(true);
    expect(prefersAsync('respond-asynchronously')).toBe(false);
    expect(prefersAsync(undefined)).toBe(false);
    expect(prefersLenient('respond-async, handling=lenient')).toBe(true);
    expect(prefersLenient('respond-async, handling=strict')).toBe(false);
  });
});

describe('parseExportRequest', () => {
  it('reads _type lists (comma-separated and repeated, without duplicates) and normalizes _since', () => {
    const parsed = parseExportRequest(request([['_type', 'Patient, Observation'], ['_type', 'Patient,Condition'], ['_since', '2024-01-01T00:00:00+02:00']]), 'system');
    expect(parsed).toEqual({ level: 'system', types: ['Patient', 'Observation', 'Condition'], since: '2023-12-31T22:00:00.000Z', typeFilters: [], ignored: [] });
  });

  it('keeps commas inside a _typeFilter value and splits comma-joined filters at the next type', () => {
    const one = parseExportRequest(request([['_typeFilter', 'Observation?category=laboratory,vital-signs&status=final']]), 'system');
    expect(one.typeFilters).toEqual([{ type: 'Observation', query: [['category', 'laboratory,vital-signs'], ['status', 'final']] }]);
    const two = parseExportRequest(request([['_typeFilter', 'Observation?status=final,Condition?clinical-status=active']]), 'system');
    expect(two.typeFilters.map((f) => f.type)).toEqual(['Observation', 'Condition']);
  });

  it('reads patient references from a POST Parameters body at patient level', () => {
    const body = { resourceType: 'Parameters', parameter: [{ name: 'patient', valueReference: { reference: 'Patient/a' } }, { name: 'patient', valueReference: { reference: 'Patient/b' } }] };
    expect(parseExportRequest(request([], { method: 'POST', body }), 'patient').patients).toEqual(['a', 'b']);
  });

  it.each([
    ['no respond-async', request([], { prefer: 'handling=lenient' })],
    ['a body that is not Parameters', request([], { method: 'POST', body: { resourceType: 'Patient' } })],
    ['a patient that is not a Patient reference', request([], { method: 'POST', body: { resourceType: 'Parameters', parameter: [{ name: 'patient', valueReference: { reference: 'Group/a' } }] } })],
    ['too many _typeFilter queries', request(Array.from({ length: 51 }, () => ['_typeFilter', 'Observation?status=final'] as [string, string]))],
    ['_since twice', request([['_since', '2024-01-01T00:00:00Z'], ['_since', '2024-01-02T00:00:00Z']])],
  ])('refuses %s with 400', (_what, req) => {
    expect(() => parseExportRequest(req, 'patient')).toThrow(BadRequestError);
  });

  it('ignores unsupported parameters under handling=lenient, naming them', () => {
    const parsed = parseExportRequest(request([['_elements', 'id'], ['_type', 'Nothing,Patient']], { prefer: 'respond-async; handling=lenient' }), 'system');
    expect(parsed.types).toEqual(['Patient']);
    expect(parsed.ignored).toEqual([expect.stringContaining('_elements'), expect.stringContaining("'Nothing'")]);
  });
});
