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

/** LOINC codes the search scenarios spread Observations over (each code ≈ 1/20 of them). */
export const OBSERVATION_CODES = Array.from({ length: 20 }, (_, i) => `${1000 + i}-${i % 10}`);

/**
 * An Observation of one of {@link OBSERVATION_CODES} for a subject.
 *
 * @param seq - picks the code and value
 * @param subject - the subject reference (`Patient/id` or a `urn:uuid:`)
 * @returns an Observation without `id` or `meta`
 */
export function makeObservation(seq: number, subject: string): Record<string, unknown> {
  return {
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: OBSERVATION_CODES[seq % OBSERVATION_CODES.length] }] },
    subject: { reference: subject },
    effectiveDateTime: `2024-0${1 + (seq % 9)}-1${seq % 10}T10:00:00Z`,
    valueQuantity: { value: 50 + (seq % 100), unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
  };
}

/**
 * A transaction Bundle of `size` entries: one Patient per five entries (a `urn:uuid:` fullUrl) and Observations
 * referring to them, so the server resolves references between entries.
 *
 * @param seq - makes the content differ between bundles
 * @param size - number of entries (a multiple of 5)
 * @returns the Bundle
 */
export function makeTransaction(seq: number, size = 100): Record<string, unknown> {
  const entry: Array<Record<string, unknown>> = [];
  for (let i = 0; i < size; i += 5) {
    const uuid = `urn:uuid:00000000-0000-4000-8000-${String(seq * size + i).padStart(12, '0')}`;
    entry.push({ fullUrl: uuid, resource: makePatient(seq * size + i), request: { method: 'POST', url: 'Patient' } });
    for (let k = 1; k < 5; k++) {
      entry.push({ resource: makeObservation(seq * size + i + k, uuid), request: { method: 'POST', url: 'Observation' } });
    }
  }
  return { resourceType: 'Bundle', type: 'transaction', entry };
}
