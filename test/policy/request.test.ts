import { describeRequest } from '../../src/policy/request';
import { BadRequestError } from '../../src/fhir/errors';

const describe_ = (method: string, path: string, query: Array<[string, string]> = [], body?: unknown) =>
  describeRequest({ method, path: path === '' ? [] : path.split('/'), query, body });

describe('describeRequest', () => {
  it.each([
    ['GET', 'Patient/1', { interaction: 'read', resourceType: 'Patient', id: '1' }],
    ['HEAD', 'Patient/1', { interaction: 'read', resourceType: 'Patient', id: '1' }],
    ['GET', 'Patient/1/_history/2', { interaction: 'vread', resourceType: 'Patient', id: '1' }],
    ['GET', 'Patient/1/_history', { interaction: 'history-instance', resourceType: 'Patient', id: '1' }],
    ['GET', 'Patient/_history', { interaction: 'history-type', resourceType: 'Patient' }],
    ['GET', '_history', { interaction: 'history-system' }],
    ['GET', 'Patient', { interaction: 'search-type', resourceType: 'Patient' }],
    ['POST', 'Patient/_search', { interaction: 'search-type', resourceType: 'Patient' }],
    ['GET', '', { interaction: 'search-system' }],
    ['POST', '_search', { interaction: 'search-system' }],
    ['GET', 'Patient/1/Observation', { interaction: 'search-type', resourceType: 'Observation', compartment: { type: 'Patient', id: '1' } }],
    ['POST', 'Patient', { interaction: 'create', resourceType: 'Patient' }],
    ['PUT', 'Patient/1', { interaction: 'update', resourceType: 'Patient', id: '1' }],
    ['PUT', 'Patient', { interaction: 'update', resourceType: 'Patient' }],
    ['PATCH', 'Patient/1', { interaction: 'patch', resourceType: 'Patient', id: '1' }],
    ['DELETE', 'Patient/1', { interaction: 'delete', resourceType: 'Patient', id: '1' }],
    ['DELETE', 'Patient', { interaction: 'delete', resourceType: 'Patient' }],
    ['GET', 'metadata', { interaction: 'capabilities' }],
    ['POST', '$evaluate-policy', { interaction: 'operation', operation: 'evaluate-policy' }],
    ['GET', 'Patient/1/$everything', { interaction: 'operation', operation: 'everything', resourceType: 'Patient', id: '1' }],
  ])('%s %s', (method, path, expected) => {
    expect(describe_(method, path)).toEqual({ ...expected, parameters: [] });
  });

  it('keeps query parameters in order, repeated names included, and the body', () => {
    expect(describe_('POST', '', [['_format', 'json']], { resourceType: 'Bundle', type: 'transaction' })).toEqual({
      interaction: 'transaction',
      parameters: [{ name: '_format', value: 'json' }],
      body: { resourceType: 'Bundle', type: 'transaction' },
    });
    expect(describe_('GET', 'Observation', [['code', 'a'], ['code', 'b']]).parameters).toEqual([
      { name: 'code', value: 'a' },
      { name: 'code', value: 'b' },
    ]);
  });

  it('refuses what is not a FHIR interaction', () => {
    for (const [method, path] of [['PATCH', 'Patient'], ['GET', 'patient/1'], ['GET', 'Patient/1/_history/2/x'], ['PUT', '']]) {
      expect(() => describe_(method as string, path as string)).toThrow(BadRequestError);
    }
  });
});
