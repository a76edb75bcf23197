/** The `$evaluate-policy` answer (a Parameters resource) as a decision and a tree of policies and rules. */

interface Part {
  name: string;
  valueCode?: string;
  valueString?: string;
  valueReference?: { reference?: string };
  part?: Part[];
}

/** A node of the trace: a policy or a rule. */
export interface TraceNode {
  label: string;
  /** `AccessPolicy/x` or `AccessPolicy.rule[0].rule[1]`. */
  key: string;
  result?: string;
  detail?: string;
  children: TraceNode[];
}

/** The decision and its explanation. */
export interface Evaluation {
  decision?: string;
  reason?: string;
  search?: string;
  searchReason?: string;
  interaction?: string;
  policies: TraceNode[];
}

function value(p: Part | undefined): string | undefined {
  return p?.valueCode ?? p?.valueString ?? p?.valueReference?.reference;
}

/**
 * Reads the answer of `$evaluate-policy`.
 * @param parameters - the Parameters resource
 * @returns the decision and the trace tree (policies → rules → nested rules)
 */
export function readEvaluation(parameters: { parameter?: Part[] }): Evaluation {
  const params = parameters.parameter ?? [];
  const get = (name: string) => value(params.find((p) => p.name === name));
  const policies = new Map<string, TraceNode>();
  const rules = new Map<string, TraceNode>();
  for (const trace of params.filter((p) => p.name === 'trace')) {
    const parts = trace.part ?? [];
    const at = (name: string) => value(parts.find((p) => p.name === name));
    const policyRef = at('policy') ?? '(no policy)';
    let policy = policies.get(policyRef);
    if (!policy) {
      policy = { label: policyRef, key: policyRef, children: [] };
      policies.set(policyRef, policy);
    }
    const rule = at('rule');
    if (!rule) {
      policy.result = at('result');
      policy.detail = at('detail');
      continue;
    }
    const node: TraceNode = { label: `${rule.replace(/^AccessPolicy\./, '')}${at('name') ? ` “${at('name')}”` : ''}`, key: `${policyRef} ${rule}`, result: at('result'), detail: at('detail'), children: [] };
    rules.set(node.key, node);
    const parentRule = rule.replace(/\.rule\[\d+\]$/, '');
    const parent = parentRule !== rule ? rules.get(`${policyRef} ${parentRule}`) : undefined;
    (parent ?? policy).children.push(node);
  }
  return {
    decision: get('decision'),
    reason: get('reason'),
    search: get('search'),
    searchReason: get('searchReason'),
    interaction: get('interaction'),
    policies: [...policies.values()],
  };
}
