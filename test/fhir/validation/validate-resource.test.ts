import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Bundle } from 'fhir/r4';
import { spawnSync } from 'node:child_process';
import { buildValidator, validatorFiles } from '../../../scripts/build-validator';
import type { Issue } from '../../../src/fhir/errors';
import { DEFINITIONS_DIR, ROOT_DIR } from '../../../src/paths';
import { VALIDATOR_MODULE, validateResource } from '../../../src/fhir/validation/validate-resource';

/** Builds generated/r4-validator.js when it is missing or older than what it is built from. */
function ensureValidatorBuilt(): void {
  const sources = [
    path.join(DEFINITIONS_DIR, 'r4', 'fhir.schema.json'),
    path.join(DEFINITIONS_DIR, 'project', 'fhir.schema.json'),
    path.join(ROOT_DIR, 'scripts', 'build-validator.ts'),
  ];
  const built = fs.existsSync(VALIDATOR_MODULE) ? fs.statSync(VALIDATOR_MODULE).mtimeMs : 0;
  if (sources.some((file) => fs.statSync(file).mtimeMs > built)) {
    buildValidator(VALIDATOR_MODULE);
  }
}

function readBundle(relativePath: string): Bundle {
  return JSON.parse(fs.readFileSync(path.join(DEFINITIONS_DIR, relativePath), 'utf8')) as Bundle;
}

function error(code: Issue['code'], diagnostics: string, expression: string): Issue {
  return { severity: 'error', code, diagnostics, expression: [expression] };
}

beforeAll(() => {
  ensureValidatorBuilt();
}, 120_000);

describe('validateResource: valid resources', () => {
  it('accepts a Patient using primitives, datatypes, backbone elements and primitive extensions', () => {
    const patient = {
      resourceType: 'Patient',
      id: 'p-1',
      meta: { versionId: '1', lastUpdated: '2024-01-01T00:00:00.000Z' },
      active: true,
      name: [{ family: 'Chalmers', given: ['Peter', 'James'], _given: [null, { extension: [{ url: 'x', valueCode: 'a' }] }] }],
      gender: 'male',
      birthDate: '1974-12-25',
      deceasedBoolean: false,
      multipleBirthInteger: 2,
      address: [{ line: ['534 Erewhon St'], city: 'PleasantVille', postalCode: '3999' }],
      contact: [{ relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0131', code: 'N' }] }] }],
      link: [{ other: { reference: 'Patient/p-2' }, type: 'seealso' }],
      extension: [{ url: 'http://example.org/fhir/StructureDefinition/eye-colour', valueString: 'blue' }],
    };
    expect(validateResource(patient)).toEqual([]);
  });

  it('accepts an Observation with a choice-typed value and components', () => {
    const observation = {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
      subject: { reference: 'Patient/p-1' },
      effectiveDateTime: '2024-03-01T10:00:00+01:00',
      component: [
        { code: { text: 'systolic' }, valueQuantity: { value: 120, unit: 'mmHg' } },
        { code: { text: 'diastolic' }, valueQuantity: { value: 80.5, unit: 'mmHg' } },
      ],
    };
    expect(validateResource(observation)).toEqual([]);
  });

  it('accepts each project resource type with every element set', () => {
    const resources = [
      {
        resourceType: 'ClientApplication',
        id: 'my-app',
        name: 'My App',
        description: 'A SMART app',
        status: 'active',
        grantType: ['authorization_code', 'refresh_token'],
        responseTypes: ['code'],
        secret: 'hashed',
        tokenEndpointAuthMethod: 'private_key_jwt',
        jwks: '{"keys":[]}',
        jwksUri: 'https://app.example/jwks',
        redirectUri: ['https://app.example/callback'],
        launchUri: 'https://app.example/launch',
        scope: 'openid fhirUser launch/patient patient/*.rs',
        logoUri: 'https://app.example/logo.png',
        tosUri: 'https://app.example/tos',
        policyUri: 'https://app.example/privacy',
        allowedOrigin: ['https://app.example'],
        accessTokenLifetime: 3600,
        refreshTokenLifetime: 86400,
        requirePkce: true,
        consentRequired: false,
      },
      {
        resourceType: 'User',
        email: 'ada@example.org',
        name: { given: ['Ada'], family: 'Lovelace' },
        role: 'admin',
        active: true,
        password: 'secret',
        emailVerified: true,
      },
      { resourceType: 'Membership', user: { reference: 'User/u1' }, link: { reference: 'Patient/p1' }, active: true },
      {
        resourceType: 'AccessPolicy',
        name: 'Patients read own data',
        description: 'Nested rules',
        engine: 'rule-engine',
        target: [{ link: { reference: 'Membership/m1' } }, { link: { reference: 'ClientApplication/c1' } }],
        rule: [
          {
            name: 'own data',
            effect: 'permit',
            target: { expression: "%request.interaction = 'read'" },
            combineBehavior: 'all',
            rule: [
              { condition: { expression: '%resource.subject.reference = %patient' }, effect: 'deny' },
              { rule: [{ description: 'third level', condition: { expression: 'true' } }] },
            ],
          },
        ],
        attribute: [{ attributeId: 'team', operation: { type: 'search-type', path: 'CareTeam', params: "'x'" } }],
      },
    ];
    for (const resource of resources) {
      expect({ type: resource.resourceType, issues: validateResource(resource) }).toEqual({
        type: resource.resourceType,
        issues: [],
      });
    }
  });

  it('accepts the committed definitions themselves (SearchParameter and StructureDefinition bundles)', () => {
    const bundles = [
      readBundle('project/structure-definitions.json'),
      readBundle('project/search-parameters.json'),
      readBundle('r4/search-parameters.json'),
    ];
    for (const bundle of bundles) {
      expect(validateResource(bundle as unknown as Record<string, unknown>)).toEqual([]);
    }
  });
});

describe('validateResource: schema errors', () => {
  it('reports an unknown element as a structure issue', () => {
    expect(validateResource({ resourceType: 'Patient', foo: 1, name: [{ family: 'x', bar: true }] })).toEqual([
      error('structure', "Unknown element 'foo'", 'Patient.foo'),
      error('structure', "Unknown element 'bar'", 'Patient.name[0].bar'),
    ]);
  });

  it('reports a wrong JSON type once per location, with the expected FHIR type', () => {
    expect(validateResource({ resourceType: 'Patient', active: 'yes', name: [{ given: ['Ann', 3] }] })).toEqual([
      error('value', 'Invalid value for Patient.active: expected boolean (a JSON boolean)', 'Patient.active'),
      error('value', 'Invalid value for Patient.name[0].given[1]: expected string (a JSON string)', 'Patient.name[0].given[1]'),
    ]);
  });

  it('reports a single value where an array belongs, and an object where a datatype belongs', () => {
    expect(validateResource({ resourceType: 'Patient', name: { family: 'x' }, maritalStatus: [{ text: 'x' }] })).toEqual([
      error('structure', 'Invalid value for Patient.name: expected a JSON array', 'Patient.name'),
      error('structure', 'Invalid value for Patient.maritalStatus: expected CodeableConcept (a JSON object)', 'Patient.maritalStatus'),
    ]);
  });

  it('reports a malformed date with the expected pattern', () => {
    const issues = validateResource({ resourceType: 'Patient', birthDate: '1970-13-01' });
    expect(issues).toEqual([
      error(
        'value',
        'Invalid value for Patient.birthDate: expected date (a string) matching ' +
          '^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$',
        'Patient.birthDate',
      ),
    ]);
  });

  it('reports a code outside its required value set, for R4 and project types', () => {
    expect(validateResource({ resourceType: 'Patient', gender: 'robot' })).toEqual([
      error('value', 'Invalid value for Patient.gender: expected one of male | female | other | unknown', 'Patient.gender'),
    ]);
    expect(
      validateResource({ resourceType: 'ClientApplication', name: 'x', grantType: ['implicit'], status: 'on' }),
    ).toEqual([
      error('value', 'Invalid value for ClientApplication.status: expected one of active | inactive', 'ClientApplication.status'),
      error(
        'value',
        'Invalid value for ClientApplication.grantType[0]: expected one of authorization_code | client_credentials | refresh_token',
        'ClientApplication.grantType[0]',
      ),
    ]);
    expect(validateResource({ resourceType: 'User', email: 'a@b.c', role: 'root' })).toEqual([
      error('value', 'Invalid value for User.role: expected one of owner | admin | member', 'User.role'),
    ]);
  });

  it('reports whole-number types the schema only types as number', () => {
    expect(
      validateResource({ resourceType: 'ClientApplication', name: 'x', grantType: ['client_credentials'], accessTokenLifetime: 0 }),
    ).toEqual([
      error(
        'value',
        'Invalid value for ClientApplication.accessTokenLifetime: expected positiveInt (a whole number from 1 to 2147483647)',
        'ClientApplication.accessTokenLifetime',
      ),
    ]);
    expect(validateResource({ resourceType: 'Patient', multipleBirthInteger: 1.5 })).toEqual([
      error(
        'value',
        'Invalid value for Patient.multipleBirthInteger: expected integer (a whole number from -2147483648 to 2147483647)',
        'Patient.multipleBirthInteger',
      ),
    ]);
  });

  it('rejects a resourceType that does not exist, at the top level and inside a Bundle', () => {
    expect(validateResource({ resourceType: 'Spaceship', id: 'x' })).toEqual([
      error('structure', "Unknown resource type 'Spaceship'", 'resourceType'),
    ]);
    expect(validateResource({ id: 'x' })).toEqual([error('required', 'Missing resourceType', 'resourceType')]);
    expect(
      validateResource({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Spaceship' } }] }),
    ).toEqual([error('structure', "Unknown resource type 'Spaceship'", 'Bundle.entry[0].resource')]);
  });

  it('rejects a ReDoS-shaped base64Binary value with the linear-time pattern', () => {
    const adversarial = `${'AAAA  '.repeat(20)}!`;
    expect(adversarial).toHaveLength(121);
    const issues = validateResource({
      resourceType: 'Patient',
      extension: [{ url: 'http://example.org/photo', valueBase64Binary: adversarial }],
    });
    expect(issues).toEqual([
      error(
        'value',
        'Invalid value for Patient.extension[0].valueBase64Binary: expected base64Binary (a string) matching ^[0-9a-zA-Z+/=\\s]+$',
        'Patient.extension[0].valueBase64Binary',
      ),
    ]);
    const valid = { resourceType: 'Patient', extension: [{ url: 'http://example.org/photo', valueBase64Binary: 'AAAA BBBB=' }] };
    expect(validateResource(valid)).toEqual([]);
  });
});

describe('validateResource: required elements', () => {
  it('reports Observation.status and Observation.code once each', () => {
    expect(validateResource({ resourceType: 'Observation' })).toEqual([
      error('required', 'Missing required element Observation.code', 'Observation.code'),
      error('required', 'Missing required element Observation.status', 'Observation.status'),
    ]);
  });

  it('accepts a required primitive given only as an extension (_status)', () => {
    const observation = {
      resourceType: 'Observation',
      code: { text: 'x' },
      _status: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }] },
    };
    expect(validateResource(observation)).toEqual([]);
  });

  it('reports required elements inside each item of a backbone element', () => {
    const patient = { resourceType: 'Patient', link: [{ other: { reference: 'Patient/2' }, type: 'seealso' }, { type: 'refer' }] };
    expect(validateResource(patient)).toEqual([
      error('required', 'Missing required element Patient.link[1].other', 'Patient.link[1].other'),
    ]);
  });

  it('reports Extension.url inside datatypes and primitive extensions', () => {
    const patient = {
      resourceType: 'Patient',
      extension: [{ valueString: 'x' }],
      name: [{ family: 'x', _family: { extension: [{ valueCode: 'y' }] } }],
    };
    expect(validateResource(patient)).toEqual([
      error('required', 'Missing required element Patient.extension[0].url', 'Patient.extension[0].url'),
      error('required', 'Missing required element Patient.name[0]._family.extension[0].url', 'Patient.name[0]._family.extension[0].url'),
    ]);
  });

  it('reports a required choice element by its group name', () => {
    const request = { resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject: { reference: 'Patient/1' } };
    expect(validateResource(request)).toEqual([
      error('required', 'Missing required element MedicationRequest.medication[x]', 'MedicationRequest.medication[x]'),
    ]);
    expect(validateResource({ ...request, medicationCodeableConcept: { text: 'aspirin' } })).toEqual([]);
  });

  it('reports required elements of resources inside a Bundle', () => {
    const bundle = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Observation', code: {} } }] };
    expect(validateResource(bundle)).toEqual([
      error('required', 'Missing required element Bundle.entry[0].resource.status', 'Bundle.entry[0].resource.status'),
    ]);
  });

  it('reports the required elements of the project types', () => {
    expect(validateResource({ resourceType: 'ClientApplication', grantType: ['client_credentials'] })).toEqual([
      error('required', 'Missing required element ClientApplication.name', 'ClientApplication.name'),
    ]);
    expect(validateResource({ resourceType: 'ClientApplication', name: 'x', grantType: [] })).toEqual([
      error('required', 'Missing required element ClientApplication.grantType', 'ClientApplication.grantType'),
    ]);
    expect(validateResource({ resourceType: 'User', role: 'member' })).toEqual([
      error('required', 'Missing required element User.email', 'User.email'),
    ]);
    expect(validateResource({ resourceType: 'Membership', active: true })).toEqual([
      error('required', 'Missing required element Membership.user', 'Membership.user'),
    ]);
  });

  it('checks nested AccessPolicy rules at every depth', () => {
    const policy = {
      resourceType: 'AccessPolicy',
      name: 'p',
      engine: 'rule-engine',
      target: [{}],
      rule: [{ rule: [{ rule: [{ effect: 'maybe', target: {} }] }] }],
      attribute: [{ attributeId: 'a', operation: { path: 'CareTeam' } }],
    };
    expect(validateResource(policy)).toEqual([
      error('required', 'Missing required element AccessPolicy.target[0].link', 'AccessPolicy.target[0].link'),
      error(
        'value',
        'Invalid value for AccessPolicy.rule[0].rule[0].rule[0].effect: expected one of permit | deny',
        'AccessPolicy.rule[0].rule[0].rule[0].effect',
      ),
      error(
        'required',
        'Missing required element AccessPolicy.rule[0].rule[0].rule[0].target.expression',
        'AccessPolicy.rule[0].rule[0].rule[0].target.expression',
      ),
      error('required', 'Missing required element AccessPolicy.attribute[0].operation.type', 'AccessPolicy.attribute[0].operation.type'),
    ]);
    expect(validateResource({ resourceType: 'AccessPolicy', name: 'p', engine: 'everything' })).toEqual([
      error('value', 'Invalid value for AccessPolicy.engine: expected one of full-access | rule-engine', 'AccessPolicy.engine'),
    ]);
  });
});

describe('validateResource: loading', () => {
  /** What a plain Node process (as `npm start` runs) makes of the validator module at `file`. */
  function loadInNode(file: string): { codeCache: string; verdict: string } {
    const script = `const m = require(${JSON.stringify(file)}); console.log(JSON.stringify({ codeCache: m.codeCache, verdict: String(m.validateResource({ resourceType: 'Patient', active: 'yes' })) }))`;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(run.stderr);
    return JSON.parse(run.stdout) as { codeCache: string; verdict: string };
  }

  it("compiles with the build's V8 code cache, and from source when V8 rejects the cache or it is missing", () => {
    expect(loadInNode(VALIDATOR_MODULE)).toEqual({ codeCache: 'accepted', verdict: 'false' });
    // Beside the original (gitignored), so that the code's require of ajv's runtime resolves as it does there.
    const dir = fs.mkdtempSync(path.join(path.dirname(VALIDATOR_MODULE), 'validator-copy-'));
    try {
      const from = validatorFiles(VALIDATOR_MODULE);
      const to = validatorFiles(path.join(dir, path.basename(VALIDATOR_MODULE)));
      fs.copyFileSync(from.loader, to.loader);
      fs.copyFileSync(from.code, to.code);
      fs.writeFileSync(to.cache, Buffer.alloc(64, 7));
      expect(loadInNode(to.loader)).toEqual({ codeCache: 'rejected', verdict: 'false' });
      fs.rmSync(to.cache);
      expect(loadInNode(to.loader)).toEqual({ codeCache: 'absent', verdict: 'false' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tells to run the build when the generated validator is missing', () => {
    const emptyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'no-validator-'));
    try {
      jest.isolateModules(() => {
        jest.doMock('../../../src/paths', () => ({ ...jest.requireActual('../../../src/paths'), GENERATED_DIR: emptyDir }));
        const isolated = jest.requireActual('../../../src/fhir/validation/validate-resource') as {
          validateResource: typeof validateResource;
        };
        expect(() => isolated.validateResource({ resourceType: 'Patient' })).toThrow(
          `The FHIR validator ${path.join(emptyDir, 'r4-validator.js')} has not been built: ` +
            'run `npm run build` (or `npm run build:validator`)',
        );
      });
    } finally {
      jest.dontMock('../../../src/paths');
      fs.rmSync(emptyDir, { recursive: true, force: true });
    }
  });
});
