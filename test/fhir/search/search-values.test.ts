/**
 * searchValues computes some of a resource's search parameters: for every resource of a corpus and for its type's
 * Patient-compartment parameters, each single parameter and all of them, it must give exactly what the full
 * buildSearchIndex gives for those parameters.
 */
import demo from '../../../seed/demo.json';
import { getPatientCompartmentParams, getSearchParameters } from '../../../src/fhir/definitions';
import { buildSearchIndex, searchValues } from '../../../src/fhir/search/indexing/build-index';
import { FIXTURES } from './search-params.contract';

type Json = Record<string, unknown>;

const corpus: Json[] = [...(FIXTURES as Json[]), ...(demo as { entry: Array<{ resource: Json }> }).entry.map((e) => e.resource)];

const pick = (index: Record<string, unknown>, codes: readonly string[]): Record<string, unknown> =>
  Object.fromEntries(Object.entries(index).filter(([code]) => codes.includes(code)));

describe('searchValues', () => {
  it('equals the full index restricted to the asked parameters', () => {
    let compared = 0;
    for (const resource of corpus) {
      const type = resource.resourceType as string;
      const full = buildSearchIndex(resource).index;
      const codes = getSearchParameters(type).map((p) => p.code);
      const asked = [getPatientCompartmentParams(type), codes, ...codes.map((code) => [code])];
      for (const subset of asked) {
        expect(searchValues(resource, subset)).toEqual(pick(full, subset));
        compared++;
      }
    }
    expect(corpus.length).toBeGreaterThanOrEqual(20);
    expect(compared).toBeGreaterThan(800);
  });

  it('gives nothing for no parameters or unknown ones', () => {
    const resource = corpus.find((r) => r.resourceType === 'Observation') as Json;
    expect(Object.keys(buildSearchIndex(resource).index).length).toBeGreaterThan(0);
    expect(searchValues(resource, [])).toEqual({});
    expect(searchValues(resource, ['no-such-parameter'])).toEqual({});
  });
});
