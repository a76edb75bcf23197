/** Discovery of bulk export: the CapabilityStatement instantiates the Bulk Data CapabilityStatement and lists `$export`. */
import request from 'supertest';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';

let t: TestApp;

beforeAll(async () => {
  t = await buildTestApp();
});

afterAll(async () => {
  await t.close();
});

it('advertises the Bulk Data CapabilityStatement and the three $export operations', async () => {
  const res = await request(t.app).get(`${t.base}/metadata`);
  expect(res.status).toBe(200);
  const statement = res.body as {
    instantiates: string[];
    rest: Array<{ operation: Array<{ name: string; definition: string }>; resource: Array<{ type: string; operation?: Array<{ name: string; definition: string }> }> }>;
  };
  expect(statement.instantiates).toEqual(['http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data']);
  const rest = statement.rest[0];
  expect(rest?.operation).toContainEqual({ name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export' });
  const byType = new Map(rest?.resource.map((r) => [r.type, r.operation]));
  expect(byType.get('Patient')).toEqual([{ name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export' }]);
  expect(byType.get('Group')).toEqual([{ name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export' }]);
  expect(byType.get('Observation')).toBeUndefined();
});

it('leaves the SMART configuration as it was: system scopes for backend services, no bulk-specific fields', async () => {
  const res = await request(t.app).get(`${t.base}/.well-known/smart-configuration`);
  expect(res.status).toBe(200);
  expect(res.body.token_endpoint_auth_methods_supported).toContain('private_key_jwt');
  expect(res.body.grant_types_supported).toContain('client_credentials');
  expect(JSON.stringify(res.body)).not.toMatch(/export/i);
});
