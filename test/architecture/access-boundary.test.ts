/**
 * The one door (DESIGN §5.8, docs/access-policies.md "One door"): FHIR-facing code under src/fhir/ reaches stored
 * documents only through the access-controlled repository. Read from every module's imports (TypeScript's parser):
 * outside src/fhir/access/ and src/fhir/repository/ (the layer the door wraps), no module under src/fhir/ may
 * - import a storage adapter, or any value or store interface from the storage port (only the data shapes a
 *   filter or a document has, as types);
 * - import the unjudged repository (`FhirRepository`, its transaction view, the staged store);
 * - import, other than as a type, the access layer's internals (judgement, plans, document reads, paging).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '../..');
const SRC = path.join(ROOT, 'src');

/** One imported name (or `*` / default) and whether only its type is used. */
interface ImportedName {
  name: string;
  typeOnly: boolean;
}

/** One import (or re-export) of a module. */
interface ModuleImport {
  /** The imported module, relative to src/ without extension, or the package name. */
  target: string;
  names: ImportedName[];
}

/** Data shapes of the storage port that the search layer may name as types. */
const PORT_DATA_TYPES = new Set(['Filter', 'Sort', 'ResourceDocument', 'FindOptions', 'HistoryQuery']);
/** Access-layer modules whose values only the access layer uses. */
const ACCESS_INTERNALS = new Set(['judge', 'type-plan', 'visible-documents', 'paging', 'attribute-fetcher', 'explain'].map((m) => `fhir/access/${m}`));
const REPOSITORY_VALUES = new Set(['FhirRepository', 'StagedRepository']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

function resolve(fromFile: string, specifier: string): string {
  if (!specifier.startsWith('.')) return specifier;
  return path.relative(SRC, path.resolve(path.dirname(fromFile), specifier)).split(path.sep).join('/');
}

/**
 * The imports of one module: import declarations, re-exports, `import('...')` types, dynamic imports and requires.
 * @param file - its path (relative specifiers are resolved against it)
 * @param text - its source
 * @returns the imports
 */
export function importsOf(file: string, text: string): ModuleImport[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const found: ModuleImport[] = [];
  const add = (specifier: ts.Expression | undefined, names: ImportedName[]): void => {
    if (specifier && ts.isStringLiteral(specifier)) found.push({ target: resolve(file, specifier.text), names });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const all = clause?.isTypeOnly ?? false;
      const names: ImportedName[] = [];
      if (clause?.name) names.push({ name: 'default', typeOnly: all });
      const bindings = clause?.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) names.push({ name: '*', typeOnly: all });
      if (bindings && ts.isNamedImports(bindings)) {
        for (const element of bindings.elements) names.push({ name: (element.propertyName ?? element.name).text, typeOnly: all || element.isTypeOnly });
      }
      // A side-effect import (`import './x'`) runs the module: treat it as a value import.
      add(node.moduleSpecifier, names.length > 0 ? names : [{ name: '*', typeOnly: false }]);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      const names =
        node.exportClause && ts.isNamedExports(node.exportClause)
          ? node.exportClause.elements.map((e) => ({ name: (e.propertyName ?? e.name).text, typeOnly: node.isTypeOnly || e.isTypeOnly }))
          : [{ name: '*', typeOnly: node.isTypeOnly }];
      add(node.moduleSpecifier, names);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal as ts.Expression, [{ name: node.qualifier?.getText() ?? '*', typeOnly: true }]);
    } else if (ts.isCallExpression(node) && (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))) {
      add(node.arguments[0], [{ name: '*', typeOnly: false }]);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/**
 * What one module breaks of the boundary.
 * @param module - its path relative to src/ (`fhir/search/include.ts`)
 * @param imports - its imports
 * @returns one line per violation
 */
export function boundaryViolations(module: string, imports: ModuleImport[]): string[] {
  if (!module.startsWith('fhir/') || module.startsWith('fhir/access/') || module.startsWith('fhir/repository/')) return [];
  const problems: string[] = [];
  for (const { target, names } of imports) {
    const named = (pick: (n: ImportedName) => boolean): string => names.filter(pick).map((n) => n.name).join(', ');
    if (target.startsWith('storage/') && target !== 'storage/ports') problems.push(`${module} imports the storage adapter ${target}`);
    if (target === 'storage/ports') {
      const bad = named((n) => !n.typeOnly || !PORT_DATA_TYPES.has(n.name));
      if (bad) problems.push(`${module} imports ${bad} from the storage port (only the types ${[...PORT_DATA_TYPES].join(', ')} may be named)`);
    }
    if (target === 'fhir/repository/staged-store') problems.push(`${module} imports the staged store`);
    if (target === 'fhir/repository/repository') {
      const bad = named((n) => REPOSITORY_VALUES.has(n.name) || n.name === '*');
      if (bad) problems.push(`${module} imports ${bad} (the unjudged repository) from fhir/repository/repository`);
    }
    if (ACCESS_INTERNALS.has(target)) {
      const bad = named((n) => !n.typeOnly);
      if (bad) problems.push(`${module} imports ${bad} from the access layer's internals (${target})`);
    }
  }
  return problems;
}

describe('the access boundary', () => {
  it('holds for every module under src/fhir/', () => {
    const files = sourceFiles(SRC);
    expect(files.length).toBeGreaterThan(100);
    const problems = files.flatMap((file) => {
      const module = path.relative(SRC, file).split(path.sep).join('/');
      return boundaryViolations(module, importsOf(file, readFileSync(file, 'utf8')));
    });
    expect(problems).toEqual([]);
  });

  it('reports each kind of side door', () => {
    const file = path.join(SRC, 'fhir/search/side-door.ts');
    const text = [
      "import { EmbeddedResourceStore } from '../../storage/embedded/resource-store';",
      "import type { ResourceStore, Filter } from '../../storage/ports';",
      "import { UniqueConflictError } from '../../storage/ports';",
      "import { FhirRepository, type Resource } from '../repository/repository';",
      "import { StagedResourceStore } from '../repository/staged-store';",
      "import { collectVisible } from '../access/visible-documents';",
      "import type { Page } from '../access/paging';",
      "export { fetchPage } from '../access/paging';",
      "type Store = import('../../storage/ports').RecordStore;",
      "const lazy = () => import('../../storage/mongo/resource-store');",
    ].join('\n');
    const problems = boundaryViolations('fhir/search/side-door.ts', importsOf(file, text));
    expect(problems).toEqual([
      'fhir/search/side-door.ts imports the storage adapter storage/embedded/resource-store',
      'fhir/search/side-door.ts imports ResourceStore from the storage port (only the types Filter, Sort, ResourceDocument, FindOptions, HistoryQuery may be named)',
      'fhir/search/side-door.ts imports UniqueConflictError from the storage port (only the types Filter, Sort, ResourceDocument, FindOptions, HistoryQuery may be named)',
      'fhir/search/side-door.ts imports FhirRepository (the unjudged repository) from fhir/repository/repository',
      'fhir/search/side-door.ts imports the staged store',
      "fhir/search/side-door.ts imports collectVisible from the access layer's internals (fhir/access/visible-documents)",
      "fhir/search/side-door.ts imports fetchPage from the access layer's internals (fhir/access/paging)",
      'fhir/search/side-door.ts imports RecordStore from the storage port (only the types Filter, Sort, ResourceDocument, FindOptions, HistoryQuery may be named)',
      'fhir/search/side-door.ts imports the storage adapter storage/mongo/resource-store',
    ]);
    // The same imports in the access layer are its own business.
    expect(boundaryViolations('fhir/access/side-door.ts', importsOf(file, text))).toEqual([]);
  });
});
