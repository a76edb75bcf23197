/**
 * Static analysis of a parsed FHIRPath expression (the AST of `fhirpath.parse`): which `%variables` it reads,
 * which functions it calls, which variables it defines with `defineVariable`, and whether its value may depend on
 * the evaluation focus (the resource).
 *
 * Focus dependence is over-approximated: an implicit invocation (`name`, `$this`, `exists()`) that is evaluated
 * against the root input counts, wherever it occurs. Arguments of a function called on an explicit input
 * (`%request.parameters.where(name = 'x')`) are evaluated against that input, not the root, so they do not.
 */

/** A node of the fhirpath.js parse tree. */
export interface AstNode {
  type: string;
  text?: string;
  delimitedText?: string;
  children?: AstNode[];
}

/** A function call found in an expression. */
export interface FunctionCall {
  name: string;
  arity: number;
}

/** What an expression reads, calls and defines. */
export interface ExpressionFacts {
  variables: Set<string>;
  functions: FunctionCall[];
  definedVariables: Set<string>;
  usesFocus: boolean;
  /** Members read as `%request.<member>`. */
  requestMembers: Set<string>;
  /** `%request` is used other than as `%request.<member>` (passed whole, or indexed). */
  requestWhole: boolean;
}

/** Functions whose result does not depend on their input collection. */
const FOCUS_FREE_FUNCTIONS = new Set(['today', 'now', 'timeOfDay', 'iif']);

/**
 * The value of a delimited identifier or string literal (`` `a-b` `` or `'a-b'`), as fhirpath.js reads it.
 * @param text - the token with its delimiters
 * @returns the unescaped name
 */
export function unquote(text: string): string {
  const body = /^[`'](.*)[`']$/s.exec(text)?.[1] ?? text;
  return body.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_m, esc: string) => {
    if (esc.startsWith('u') && esc.length === 5) return String.fromCharCode(parseInt(esc.slice(1), 16));
    return ({ n: '\n', r: '\r', t: '\t', f: '\f' } as Record<string, string>)[esc] ?? esc;
  });
}

function functionName(node: AstNode): string {
  const functn = node.children?.find((c) => c.type === 'Functn');
  return functn?.text ?? functn?.children?.find((c) => c.type === 'Identifier')?.text ?? '';
}

function functionParams(node: AstNode): AstNode[] {
  const functn = node.children?.find((c) => c.type === 'Functn');
  return functn?.children?.find((c) => c.type === 'ParamList')?.children ?? [];
}

function constantName(node: AstNode): string {
  return node.delimitedText !== undefined ? unquote(node.delimitedText) : (node.text ?? '');
}

/**
 * Collects the facts of a parsed expression.
 * @param root - the result of `fhirpath.parse`
 * @returns variables read, functions called, variables defined, focus dependence
 */
export function analyzeExpression(root: AstNode): ExpressionFacts {
  const facts: ExpressionFacts = { variables: new Set(), functions: [], definedVariables: new Set(), usesFocus: false, requestMembers: new Set(), requestWhole: false };
  const visitFunction = (node: AstNode, argumentsOnRoot: boolean): void => {
    const name = functionName(node);
    const params = functionParams(node);
    facts.functions.push({ name, arity: params.length });
    const first = params[0];
    if (name === 'defineVariable' && first?.type === 'TermExpression') {
      const literal = first.children?.[0]?.children?.[0];
      if (literal?.type === 'StringLiteral' && literal.text) facts.definedVariables.add(unquote(literal.text));
    }
    for (const param of params) visit(param, argumentsOnRoot);
  };
  const visit = (node: AstNode, onRoot: boolean): void => {
    switch (node.type) {
      case 'ExternalConstantTerm':
        facts.variables.add(constantName(node));
        if (constantName(node) === 'request') facts.requestWhole = true;
        return;
      case 'InvocationTerm': {
        const invocation = node.children?.[0];
        if (!invocation) return;
        if (invocation.type === 'FunctionInvocation') {
          if (onRoot && !FOCUS_FREE_FUNCTIONS.has(functionName(invocation))) facts.usesFocus = true;
          visitFunction(invocation, onRoot);
        } else if (onRoot) {
          facts.usesFocus = true;
        }
        return;
      }
      case 'InvocationExpression': {
        const [left, right] = node.children ?? [];
        const constant = left?.type === 'TermExpression' ? left.children?.[0] : undefined;
        if (constant?.type === 'ExternalConstantTerm' && constantName(constant) === 'request' && right?.type === 'MemberInvocation' && right.text) {
          facts.variables.add('request');
          facts.requestMembers.add(right.text);
          return;
        }
        if (left) visit(left, onRoot);
        // The right side works on the left side's result; a function's arguments see those items.
        if (right?.type === 'FunctionInvocation') visitFunction(right, false);
        return;
      }
      default:
        for (const child of node.children ?? []) visit(child, onRoot);
    }
  };
  visit(root, true);
  return facts;
}
