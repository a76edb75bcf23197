import { compileAccessPolicy } from '../../src/policy/compile';
import { InvalidResourceError } from '../../src/fhir/errors';
import { assertValidAccessPolicy } from '../../src/policy/compile';

const base = { resourceType: 'AccessPolicy', id: 'p', name: 'p', engine: 'rule-engine' };

function issuesOf(resource: Record<string, unknown>): Array<{ diagnostics: string; expression?: string[] }> {
  return compileAccessPolicy({ ...base, ...resource }).issues.map(({ diagnostics, expression }) => ({ diagnostics, expression }));
}

describe('compileAccessPolicy', () => {
  it('compiles a policy using every request and resource variable', () => {
    const { issues, policy } = compileAccessPolicy({
      ...base,
      target: [{ link: { reference: 'Membership/m1' } }, { link: { reference: 'ClientApplication/c1' } }],
      attribute: [
        { attributeId: 'roles', operation: { type: 'search-type', path: "'PractitionerRole'", params: "'practitioner=' + %fhirUser.id" } },
        { attributeId: 'org', operation: { type: 'read', path: '%roles.organization' } },
      ],
      rule: [
        {
          name: 'everything',
          target: { expression: "%request.interaction = 'read' and %scopes.exists() and %client.exists() and %user.email.exists()" },
          condition: { expression: "%resource.meta.security.where(system = %sct).empty() and %before.empty() and %membership.active and %org.exists() and %`vs-x`.exists() and %ucum.exists() and %context.exists()" },
          rule: [{ effect: 'deny', target: { expression: "defineVariable('x', 1).select(%x) = 1 and today() <= now()" } }],
        },
      ],
    });
    expect(issues).toEqual([]);
    expect(policy.targets).toEqual(['Membership/m1', 'ClientApplication/c1']);
    expect(policy.attributes.map((a) => a.attributeId)).toEqual(['roles', 'org']);
    expect(policy.rules[0]?.rules[0]?.effect).toBe('deny');
    expect(policy.brokenReason).toBeUndefined();
  });

  it('names the broken element of a syntax error', () => {
    expect(
      issuesOf({ rule: [{ condition: { expression: 'true' } }, { condition: { expression: "%resource.where(" } }] }),
    ).toEqual([{ diagnostics: expect.stringMatching(/^FHIRPath syntax error: line: 1; column: \d+; message: mismatched input '<EOF>'$/), expression: ['AccessPolicy.rule[1].condition.expression'] }]);
  });

  it('names nested rule elements with their indexes', () => {
    expect(
      issuesOf({ rule: [{ rule: [{}, {}, { target: { expression: '1 +' } }] }] }),
    ).toEqual([{ diagnostics: expect.stringContaining('syntax error'), expression: ['AccessPolicy.rule[0].rule[2].target.expression'] }]);
  });

  it('reports unknown variables, including resource variables in attributes and later attributes', () => {
    expect(
      issuesOf({
        attribute: [
          { attributeId: 'a', operation: { type: 'read', path: '%resource.subject' } },
          { attributeId: 'b', operation: { type: 'read', path: '%c' } },
          { attributeId: 'c', operation: { type: 'read', path: '%a.managingOrganization' } },
        ],
        rule: [{ target: { expression: '%patient.exists()' }, condition: { expression: '%a.exists() and %b.exists() and %c.exists()' } }],
      }),
    ).toEqual([
      { diagnostics: 'Unknown variable %resource (attributes are fetched once per request, before any resource is known)', expression: ['AccessPolicy.attribute[0].operation.path'] },
      { diagnostics: 'Unknown variable %c', expression: ['AccessPolicy.attribute[1].operation.path'] },
      { diagnostics: 'Unknown variable %patient', expression: ['AccessPolicy.rule[0].target.expression'] },
    ]);
  });

  it('refuses resolve(), memberOf(), unknown functions and wrong arities', () => {
    expect(
      issuesOf({
        rule: [
          { condition: { expression: '%resource.subject.resolve().exists()' } },
          { condition: { expression: "%resource.code.memberOf('http://x')" } },
          { condition: { expression: 'frobnicate()' } },
          { condition: { expression: '%resource.where()' } },
        ],
      }),
    ).toEqual([
      { diagnostics: expect.stringContaining('resolve() is not available'), expression: ['AccessPolicy.rule[0].condition.expression'] },
      { diagnostics: expect.stringContaining('memberOf() is not available'), expression: ['AccessPolicy.rule[1].condition.expression'] },
      { diagnostics: 'Unknown FHIRPath function frobnicate()', expression: ['AccessPolicy.rule[2].condition.expression'] },
      { diagnostics: 'where() does not take 0 arguments', expression: ['AccessPolicy.rule[3].condition.expression'] },
    ]);
  });

  it('checks targets and attribute ids', () => {
    expect(
      issuesOf({
        target: [{ link: { reference: 'Patient/1' } }, { link: { reference: 'Membership/ok' } }],
        attribute: [
          { attributeId: 'user', operation: { type: 'read', path: "'Patient/1'" } },
          { attributeId: 'x', operation: { type: 'read', path: "'Patient/1'" } },
          { attributeId: 'x', operation: { type: 'search-type' } },
          { attributeId: 'has-dash', operation: { type: 'read', path: "'Patient/1'", params: "'a=b'" } },
        ],
      }),
    ).toEqual([
      { diagnostics: expect.stringContaining('Membership or a ClientApplication'), expression: ['AccessPolicy.target[0].link'] },
      { diagnostics: "attributeId 'user' would hide the built-in variable %user", expression: ['AccessPolicy.attribute[0].attributeId'] },
      { diagnostics: "attributeId 'x' is used twice", expression: ['AccessPolicy.attribute[2].attributeId'] },
      { diagnostics: 'operation.path is required (the resource type to search)', expression: ['AccessPolicy.attribute[2].operation.path'] },
      { diagnostics: expect.stringContaining('attributeId must be a FHIRPath identifier'), expression: ['AccessPolicy.attribute[3].attributeId'] },
      { diagnostics: 'operation.params applies only to search-type', expression: ['AccessPolicy.attribute[3].operation.params'] },
    ]);
  });

  it('reports every broken expression at once and throws a 400 from the write-time check', () => {
    const resource = { ...base, rule: [{ target: { expression: '(' } }, { condition: { expression: '%nope' } }] };
    let error: unknown;
    try {
      assertValidAccessPolicy(resource);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InvalidResourceError);
    expect((error as InvalidResourceError).status).toBe(400);
    expect((error as InvalidResourceError).issues.map((i) => [i.code, i.expression])).toEqual([
      ['invalid', ['AccessPolicy.rule[0].target.expression']],
      ['invalid', ['AccessPolicy.rule[1].condition.expression']],
    ]);
  });

  it('marks which expressions depend on the resource', () => {
    const { policy } = compileAccessPolicy({
      ...base,
      rule: [
        { target: { expression: "%request.resourceType = 'Patient'" } },
        { target: { expression: "%request.parameters.where(name = 'x').exists()" } },
        { target: { expression: "status = 'final'" } },
        { target: { expression: 'exists()' } },
        { target: { expression: "iif(%scopes.exists(), true, false)" } },
        { target: { expression: '%before.exists()' } },
        { target: { expression: "%request.parameters.select(%resource.id)" } },
      ],
    });
    expect(policy.rules.map((r) => r.target?.dependsOnResource)).toEqual([false, false, true, true, false, true, true]);
  });
});
