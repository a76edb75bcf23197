import { compileExpression } from '../../src/policy/expression';

const scope = { resourceLevel: true, attributes: new Set<string>() };
const compile = (source: string) => {
  const { expression } = compileExpression(source, 'AccessPolicy.rule[0].target.expression', scope);
  if (!expression) throw new Error(`does not compile: ${source}`);
  return expression;
};
const env = (interaction: string, resourceType: string, id = '1') => ({ request: { interaction, resourceType, id, parameters: [] } });

describe('expressions fixed by the request shape', () => {
  it('give the right answer for every shape, however often and in whatever order they are asked', () => {
    const target = compile("%request.resourceType = 'Patient' and %request.interaction in ('read' | 'search-type')");
    const shapes: Array<[string, string, boolean]> = [
      ['read', 'Patient', true],
      ['search-type', 'Patient', true],
      ['read', 'Observation', false],
      ['update', 'Patient', false],
    ];
    for (let round = 0; round < 3; round++) {
      for (const [interaction, type, expected] of shapes) expect(target.evaluate(undefined, env(interaction, type))).toEqual([expected]);
    }
  });

  it('are not remembered when they read anything else of the request, the resource, or the clock', () => {
    const byId = compile("%request.id = '1'");
    expect(byId.evaluate(undefined, env('read', 'Patient', '1'))).toEqual([true]);
    expect(byId.evaluate(undefined, env('read', 'Patient', '2'))).toEqual([false]);
    const byResource = compile("%request.resourceType = 'Patient' and %resource.active = true");
    const withResource = (active: boolean) => ({ ...env('read', 'Patient'), resource: { resourceType: 'Patient', active } });
    expect(byResource.evaluate(undefined, withResource(true))).toEqual([true]);
    expect(byResource.evaluate(undefined, withResource(false))).toEqual([false]);
    const whole = compile("%request.select(interaction) = 'read'");
    expect(whole.evaluate(undefined, env('read', 'Patient'))).toEqual([true]);
    expect(whole.evaluate(undefined, env('update', 'Patient'))).toEqual([false]);
  });
});
