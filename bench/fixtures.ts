/**
 * Request and response bodies shared by the benchmark harness and the baseline app, so both targets move JSON of
 * the same shape and size.
 */

/** A Patient without `id` or `meta`, as a client would POST it (≈ 700 bytes serialized). */
export interface PatientBody {
  resourceType: 'Patient';
  id?: string;
  [key: string]: unknown;
}

/**
 * Builds a realistic Patient resource body.
 *
 * @param seq - a sequence number folded into the identifier and name so bodies differ between patients
 * @returns a Patient without `id` or `meta`
 */
export function makePatient(seq: number): PatientBody {
  return {
    resourceType: 'Patient',
    active: true,
    identifier: [
      { use: 'usual', system: 'urn:oid:1.2.36.146.595.217.0.1', value: `MRN-${String(seq).padStart(8, '0')}` },
    ],
    name: [
      { use: 'official', family: `Chalmers${seq % 97}`, given: ['Peter', 'James'] },
      { use: 'usual', given: ['Jim'] },
    ],
    telecom: [
      { system: 'phone', value: '(03) 5555 6473', use: 'work', rank: 1 },
      { system: 'email', value: `patient${seq}@example.org`, use: 'home' },
    ],
    gender: seq % 2 === 0 ? 'male' : 'female',
    birthDate: `19${String(50 + (seq % 50)).padStart(2, '0')}-12-25`,
    address: [
      {
        use: 'home',
        type: 'both',
        text: '534 Erewhon St PeasantVille, Rainbow, Vic  3999',
        line: ['534 Erewhon St'],
        city: 'PleasantVille',
        district: 'Rainbow',
        state: 'Vic',
        postalCode: '3999',
        period: { start: '1974-12-25' },
      },
    ],
    maritalStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'M', display: 'Married' }],
    },
  };
}

/**
 * The Patient a server would return on read: the body plus `id` and `meta`.
 *
 * @param id - the logical id
 * @param versionId - the version to report in `meta`
 * @returns the stored representation
 */
export function makeStoredPatient(id: string, versionId = '1'): PatientBody {
  return { ...makePatient(1), id, meta: { versionId, lastUpdated: '2024-01-01T00:00:00.000Z' } };
}

/** The FHIR base path (tenant `default`, project `default`) both targets answer on. */
export const FHIR_BASE_PATH = '/w/default/default/api/v1/fhir/r4';

/** The media type of FHIR JSON requests and responses. */
export const FHIR_JSON = 'application/fhir+json';
