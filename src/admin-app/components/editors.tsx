/**
 * CodeMirror 6 editors: a JSON editor that shows the server's OperationOutcome issues at their `expression`
 * (and JSON syntax errors as you type), and a FHIRPath editor with syntax highlighting for policy expressions.
 */
import { json, jsonParseLinter } from '@codemirror/lang-json';
import { HighlightStyle, StreamLanguage, syntaxHighlighting } from '@codemirror/language';
import { type Diagnostic, lintGutter, linter, setDiagnostics } from '@codemirror/lint';
import { EditorState, type Extension } from '@codemirror/state';
import { EditorView, keymap, placeholder as placeholderExt } from '@codemirror/view';
import { tags } from '@lezer/highlight';
import { Input } from '@mantine/core';
import { basicSetup, minimalSetup } from 'codemirror';
import { useEffect, useId, useRef } from 'react';
import type { Issue } from '../fhir';
import { jsonSpans, locate } from '../json-paths';

interface CodeEditorProps {
  value: string;
  onChange: (value: string) => void;
  label: string;
  extensions: Extension[];
  /** Diagnostics to show (recomputed by the caller against the current text). */
  diagnostics?: (text: string) => Diagnostic[];
  minHeight?: string;
  testId?: string;
}

function CodeEditor({ value, onChange, label, extensions, diagnostics, minHeight, testId }: CodeEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const changed = useRef(onChange);
  changed.current = onChange;
  const labelId = useId();

  useEffect(() => {
    if (!host.current) return undefined;
    const v = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: value,
        extensions: [
          ...extensions,
          EditorView.contentAttributes.of({ 'aria-labelledby': labelId, 'aria-multiline': 'true', role: 'textbox' }),
          EditorView.updateListener.of((update) => {
            if (update.docChanged) changed.current(update.state.doc.toString());
          }),
          EditorView.theme({ '&': { minHeight: minHeight ?? 'auto', border: '1px solid var(--mantine-color-gray-4)', borderRadius: '4px' }, '.cm-scroller': { minHeight: minHeight ?? 'auto' } }),
        ],
      }),
    });
    view.current = v;
    return () => {
      v.destroy();
      view.current = null;
    };
    // The editor is created once; later values are pushed in below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== value) v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
  }, [value]);

  useEffect(() => {
    const v = view.current;
    if (v) v.dispatch(setDiagnostics(v.state, diagnostics ? diagnostics(v.state.doc.toString()) : []));
  }, [diagnostics, value]);

  return (
    <div data-testid={testId}>
      <Input.Label id={labelId}>{label}</Input.Label>
      <div ref={host} />
    </div>
  );
}

/**
 * Diagnostics of OperationOutcome issues placed at their expression in a JSON text.
 * @param issues - the issues
 * @param rootType - the resource type (root of the expressions)
 * @returns a function of the text
 */
export function issueDiagnostics(issues: Issue[], rootType: string): (text: string) => Diagnostic[] {
  return (text) => {
    const spans = jsonSpans(text, rootType);
    return issues.map((issue) => {
      const expression = issue.expression?.[0];
      const span = (expression && locate(spans, expression)) || { from: 0, to: Math.min(1, text.length) };
      return {
        from: span.from,
        to: span.to,
        severity: issue.severity === 'warning' ? 'warning' : issue.severity === 'information' ? 'info' : 'error',
        message: `${expression ? `${expression}: ` : ''}${issue.diagnostics ?? issue.details?.text ?? issue.code ?? 'error'}`,
        source: 'server',
      } satisfies Diagnostic;
    });
  };
}

/** A JSON editor (a resource's text). */
export function JsonEditor(props: { value: string; onChange: (value: string) => void; label: string; issues?: Issue[]; rootType?: string }) {
  const { issues, rootType } = props;
  return (
    <CodeEditor
      value={props.value}
      onChange={props.onChange}
      label={props.label}
      testId="json-editor"
      minHeight="320px"
      extensions={[basicSetup, json(), linter(jsonParseLinter(), { delay: 300 }), lintGutter()]}
      diagnostics={issues?.length ? issueDiagnostics(issues, rootType ?? '') : undefined}
    />
  );
}

const KEYWORDS = new Set(['and', 'or', 'xor', 'implies', 'is', 'as', 'div', 'mod', 'in', 'contains', 'true', 'false']);

/** FHIRPath as a CodeMirror stream language (tokens only: enough to highlight). */
export const fhirPathLanguage = StreamLanguage.define<{ inString: string | null }>({
  name: 'fhirpath',
  startState: () => ({ inString: null }),
  token(stream, state) {
    if (state.inString) {
      while (!stream.eol()) {
        const c = stream.next();
        if (c === '\\') stream.next();
        else if (c === state.inString) {
          state.inString = null;
          break;
        }
      }
      return 'string';
    }
    if (stream.eatSpace()) return null;
    if (stream.match('//')) {
      stream.skipToEnd();
      return 'comment';
    }
    const c = stream.peek();
    if (c === "'" || c === '`') {
      state.inString = stream.next() ?? null;
      return 'string';
    }
    if (stream.match(/^%[A-Za-z_][A-Za-z0-9_-]*/) || stream.match(/^%'[^']*'/)) return 'variableName.special';
    if (stream.match(/^@[0-9T:\-.+Z]+/)) return 'number';
    if (stream.match(/^[0-9]+(\.[0-9]+)?/)) return 'number';
    if (stream.match(/^\$(this|index|total)/)) return 'variableName.special';
    const word = stream.match(/^[A-Za-z_][A-Za-z0-9_]*/) as RegExpMatchArray | null;
    if (word) {
      if (KEYWORDS.has(word[0])) return 'keyword';
      if (stream.peek() === '(') return 'function';
      return /^[A-Z]/.test(word[0]) ? 'typeName' : 'propertyName';
    }
    if (stream.match(/^(<=|>=|!=|!~|=|~|<|>|\+|-|\*|\/|\||&)/)) return 'operator';
    stream.next();
    return 'punctuation';
  },
  tokenTable: {
    function: tags.function(tags.variableName),
    'variableName.special': tags.special(tags.variableName),
  },
});

const fhirPathHighlight = HighlightStyle.define([
  { tag: tags.string, color: '#0b7a2b' },
  { tag: tags.keyword, color: '#7d3cb5', fontWeight: 'bold' },
  { tag: tags.special(tags.variableName), color: '#b35900' },
  { tag: tags.function(tags.variableName), color: '#1c5fb0' },
  { tag: tags.number, color: '#a31515' },
  { tag: tags.typeName, color: '#1f6f78' },
  { tag: tags.comment, color: '#6a737d', fontStyle: 'italic' },
]);

/** A one-line FHIRPath editor with highlighting; `error` is shown under it (a compile error from the server). */
export function FhirPathEditor(props: { value: string; onChange: (value: string) => void; label: string; error?: string; placeholder?: string }) {
  const errorId = useId();
  return (
    <div className="fhirpath-field">
      <CodeEditor
        value={props.value}
        onChange={props.onChange}
        label={props.label}
        testId="fhirpath-editor"
        extensions={[
          minimalSetup,
          fhirPathLanguage,
          syntaxHighlighting(fhirPathHighlight),
          EditorView.lineWrapping,
          keymap.of([]),
          placeholderExt(props.placeholder ?? ''),
        ]}
        diagnostics={props.error ? (text) => [{ from: 0, to: text.length, severity: 'error', message: props.error ?? '' }] : undefined}
      />
      {props.error ? (
        <Input.Error id={errorId} role="alert">
          {props.error}
        </Input.Error>
      ) : null}
    </div>
  );
}
