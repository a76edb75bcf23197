import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OUTPUT_FILES, R4_OUTPUT_DIR, buildDefinitions } from '../../scripts/build-definitions';
import {
  PROJECT_RESOURCE_TYPES,
  RESOURCE_TYPES,
  getElements,
  getPatientCompartment,
  getPatientCompartmentParams,
  getSearchParameter,
  getSearchParameters,
  isProjectResourceType,
  isResourceType,
} from '../../src/fhir/definitions';

describe('resource types', () => {
  it('lists the 146 R4 resource types plus the seven project types', () => {
    expect(RESOURCE_TYPES.size).toBe(153);
    expect([...PROJECT_RESOURCE_TYPES]).toEqual(['ClientApplication', 'User', 'Membership', 'AccessPolicy', 'IdentityProvider', 'Project', 'ProjectSettings']);
    for (const type of ['Patient', 'Observation', 'Bundle', 'Binary', ...PROJECT_RESOURCE_TYPES]) {
      expect(isResourceType(type)).toBe(true);
    }
  });

  it('rejects abstract, non-R4 and unknown names', () => {
    for (const type of ['Resource', 'DomainResource', 'SubscriptionStatus', 'HumanName', 'patient', 'Spaceship']) {
      expect(isResourceType(type)).toBe(false);
    }
    expect(isProjectResourceType('User')).toBe(true);
    expect(isProjectResourceType('Patient')).toBe(false);
  });

  it('iterates in sorted order', () => {
    const types = [...RESOURCE_TYPES];
    expect(types).toEqual([...types].sort());
    expect(types[0]).toBe('AccessPolicy');
  });
});

describe('search parameters', () => {
  it('gives a type its own parameters plus the Resource and DomainResource ones', () => {
    const codes = getSearchParameters('Patient').map((param) => param.code);
    expect(codes).toEqual(expect.arrayContaining(['_id', '_lastUpdated', '_tag', '_text', 'birthdate', 'name', 'general-practitioner']));
    expect(getSearchParameter('Patient', 'birthdate')).toMatchObject({
      url: 'http://hl7.org/fhir/SearchParameter/individual-birthdate',
      type: 'date',
      expression: 'Patient.birthDate | Person.birthDate | RelatedPerson.birthDate',
    });
  });

  it('does not give DomainResource parameters to Bundle, Binary and Parameters', () => {
    const codes = getSearchParameters('Bundle').map((param) => param.code);
    expect(codes).toEqual(expect.arrayContaining(['_id', 'identifier', 'timestamp']));
    expect(codes).not.toContain('_text');
  });

  it('keeps only R4 base parameters from the R4 file, trimmed to what the server reads', () => {
    const observationCode = getSearchParameter('Observation', 'code');
    expect(observationCode).toEqual({
      resourceType: 'SearchParameter',
      id: 'clinical-code',
      url: 'http://hl7.org/fhir/SearchParameter/clinical-code',
      name: 'code',
      status: 'draft',
      description: expect.any(String) as string,
      code: 'code',
      base: expect.arrayContaining(['Observation']) as string[],
      type: 'token',
      expression: expect.stringContaining('Observation.code') as string,
    });
  });

  it('defines the project parameters with project URLs', () => {
    const expected: Record<string, string[]> = {
      ClientApplication: ['name', 'status'],
      User: ['email', 'role', 'active', 'name'],
      Membership: ['user', 'link', 'active'],
      AccessPolicy: ['name', 'target', 'engine'],
    };
    for (const [type, codes] of Object.entries(expected)) {
      const own = getSearchParameters(type).filter((param) => (param.base as readonly string[]).includes(type));
      expect(own.map((param) => param.code)).toEqual(codes);
      for (const param of own) {
        expect(param.url).toBe(`https://fhir-server.dev/SearchParameter/${type}-${param.code}`);
      }
    }
    expect(getSearchParameter('AccessPolicy', 'target')).toMatchObject({
      type: 'reference',
      expression: 'AccessPolicy.target.link',
      target: ['Membership', 'ClientApplication'],
    });
    expect(getSearchParameter('Membership', 'user')).toMatchObject({ type: 'reference', target: ['User'] });
  });

  it('returns nothing for an unknown type', () => {
    expect(getSearchParameters('Spaceship')).toEqual([]);
  });
});

describe('patient compartment', () => {
  it('is the R4 Patient CompartmentDefinition', () => {
    expect(getPatientCompartment()).toMatchObject({
      resourceType: 'CompartmentDefinition',
      url: 'http://hl7.org/fhir/CompartmentDefinition/patient',
      code: 'Patient',
    });
    expect(getPatientCompartmentParams('Observation')).toEqual(['subject', 'performer']);
    expect(getPatientCompartmentParams('Patient')).toEqual(['link']);
    expect(getPatientCompartmentParams('Organization')).toEqual([]);
  });
});

describe('element table', () => {
  const elements = getElements();

  it('describes resource elements with cardinality, types and backbone references', () => {
    expect(elements.Patient?.birthDate).toEqual({ min: 0, max: '1', types: ['date'] });
    expect(elements.Patient?.id).toEqual({ min: 0, max: '1', types: ['id'] });
    expect(elements.Patient?.link).toEqual({ min: 0, max: '*', types: ['BackboneElement'], ref: 'Patient.link' });
    expect(elements['Patient.link']?.other).toEqual({ min: 1, max: '1', types: ['Reference'], targets: ['Patient', 'RelatedPerson'] });
    expect(elements.Observation?.status).toEqual({ min: 1, max: '1', types: ['code'] });
  });

  it('expands choice types as the JSON schema names them and keeps the group', () => {
    expect(elements.Observation?.valueQuantity).toEqual({ min: 0, max: '1', types: ['Quantity'], choice: 'value[x]' });
    expect(elements.Observation?.valueDateTime).toEqual({ min: 0, max: '1', types: ['dateTime'], choice: 'value[x]' });
    expect(elements.Extension?.valueBase64Binary).toMatchObject({ types: ['base64Binary'], choice: 'value[x]' });
    expect(elements.MedicationRequest?.['medication[x]']).toEqual({
      min: 1,
      max: '1',
      types: ['CodeableConcept', 'Reference'],
      targets: ['Medication'],
    });
    expect(elements.MedicationRequest?.medicationReference).toEqual({
      min: 1,
      max: '1',
      types: ['Reference'],
      choice: 'medication[x]',
      targets: ['Medication'],
    });
  });

  it('describes datatypes, including FHIRPath system types as FHIR types', () => {
    expect(elements.Extension?.url).toEqual({ min: 1, max: '1', types: ['uri'] });
    expect(elements.HumanName?.given).toEqual({ min: 0, max: '*', types: ['string'] });
    expect(elements['Timing.repeat']).toBeDefined();
  });

  it('follows contentReference to the referenced backbone element', () => {
    expect(elements['Questionnaire.item']?.item).toMatchObject({ max: '*', ref: 'Questionnaire.item' });
    expect(elements['AccessPolicy.rule']?.rule).toEqual({ min: 0, max: '*', types: ['BackboneElement'], ref: 'AccessPolicy.rule' });
  });

  it('contains the project types with their required elements', () => {
    expect(elements.ClientApplication?.name).toEqual({ min: 1, max: '1', types: ['string'] });
    expect(elements.ClientApplication?.grantType).toEqual({ min: 1, max: '*', types: ['code'] });
    expect(elements.ClientApplication?.accessTokenLifetime).toEqual({ min: 0, max: '1', types: ['positiveInt'] });
    expect(elements.User?.email).toEqual({ min: 1, max: '1', types: ['string'] });
    expect(elements.Membership?.user).toEqual({ min: 1, max: '1', types: ['Reference'], targets: ['User'] });
    expect(elements['AccessPolicy.target']?.link).toEqual({
      min: 1,
      max: '1',
      types: ['Reference'],
      targets: ['Membership', 'ClientApplication'],
    });
    expect(elements['AccessPolicy.attribute.operation']?.type).toEqual({ min: 1, max: '1', types: ['code'] });
    expect(elements['AccessPolicy.rule']?.modifierExtension).toEqual({ min: 0, max: '*', types: ['Extension'] });
  });

  it('leaves out elements the R4 JSON schema does not define', () => {
    expect(elements.Meta?.project).toBeUndefined();
    expect(elements.Extension?.valueMeta).toBeUndefined();
    expect(elements.SubscriptionStatus).toBeUndefined();
  });
});

describe('scripts/build-definitions.ts', () => {
  it('reproduces the committed fhir-definitions/r4 files byte for byte', () => {
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-definitions-'));
    try {
      buildDefinitions(outDir);
      for (const name of OUTPUT_FILES) {
        const rebuilt = fs.readFileSync(path.join(outDir, name));
        const committed = fs.readFileSync(path.join(R4_OUTPUT_DIR, name));
        expect({ name, same: rebuilt.equals(committed) }).toEqual({ name, same: true });
      }
    } finally {
      fs.rmSync(outDir, { recursive: true, force: true });
    }
  }, 60_000);
});
