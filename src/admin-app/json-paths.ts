/**
 * Where the elements of a JSON text are: a small parser that records, for every property and array item, the
 * FHIRPath-like path (`Patient.name[0].given[1]`) and its character range (from the key to the end of the value).
 * Used to put the server's OperationOutcome issues (`expression`) at the right place in the JSON editor.
 */

/** A character range of the text. */
export interface Span {
  from: number;
  to: number;
}

/**
 * The spans of every element of a JSON text.
 * @param text - the JSON text (may be invalid: what was parsed before the error is returned)
 * @param root - the name of the root (the resource type)
 * @returns path → span
 */
export function jsonSpans(text: string, root: string): Map<string, Span> {
  const spans = new Map<string, Span>();
  let i = 0;
  const ws = (): void => {
    while (i < text.length && /\s/.test(text[i] ?? '')) i++;
  };
  const string = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      return text.slice(start + 1, i - 1);
    }
  };
  const value = (path: string, from: number): void => {
    // Provisional (to the end): a container cut short by a syntax error still locates what it holds.
    spans.set(path, { from, to: text.length });
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      while (i < text.length && text[i] !== '}') {
        ws();
        if (text[i] !== '"') throw new Error('key expected');
        const keyStart = i;
        const key = string();
        ws();
        if (text[i] !== ':') throw new Error(': expected');
        i++;
        value(`${path}.${key}`, keyStart);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== '}') throw new Error(', expected');
        ws();
      }
      i++;
    } else if (c === '[') {
      i++;
      let index = 0;
      ws();
      while (i < text.length && text[i] !== ']') {
        ws();
        value(`${path}[${index++}]`, i);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== ']') throw new Error(', expected');
        ws();
      }
      i++;
    } else if (c === '"') {
      string();
    } else {
      while (i < text.length && /[^,\]}\s]/.test(text[i] ?? '')) i++;
    }
    spans.set(path, { from, to: i });
  };
  try {
    ws();
    value(root, i);
  } catch {
    // keep what was found
  }
  return spans;
}

/**
 * The span of an issue's expression: the element itself, else its nearest ancestor that exists (an index left
 * out, or a missing required element is reported at its parent).
 * @param spans - from {@link jsonSpans}
 * @param expression - e.g. `Patient.name[0].given` or `Bundle.entry[1].resource.status`
 * @returns the span, or undefined when nothing of it is in the text
 */
export function locate(spans: Map<string, Span>, expression: string): Span | undefined {
  const [root, ...rest] = expression.trim().split('.');
  if (!root || !spans.has(root)) return undefined;
  let current = root;
  for (const segment of rest) {
    const name = /^([A-Za-z0-9_]+)(\[\d+\])?$/.exec(segment);
    if (!name) break;
    let next = `${current}.${segment}`;
    // An index left out (`Patient.name.family`): the first item.
    if (!name[2] && spans.has(`${next}[0]`) && segment !== rest[rest.length - 1]) next = `${next}[0]`;
    if (!spans.has(next)) break;
    current = next;
  }
  return spans.get(current);
}

/**
 * Turns an issue expression into the path of a form field: `AccessPolicy.rule[1].condition.expression` →
 * `rule[1].condition.expression` (the resource type is dropped).
 * @param expression - the expression
 * @returns the field path
 */
export function fieldPath(expression: string): string {
  return expression.replace(/^[A-Z][A-Za-z]*\.?/, '');
}
