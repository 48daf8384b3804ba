// The import graph of lib/ has no cycle (issue 8). Every edge counts: static imports and
// re-exports, `import type` (a type-only cycle is still two modules that cannot be layered), and
// dynamic `import()` (which was used to hide cycles from the module loader). The graph is read
// with the TypeScript compiler API (a devDependency already), so no other tool is needed.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const lib = join(repo, 'lib');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

interface Edge {
  to: string;
  kind: 'import' | 'import type' | 'export' | 'import()';
}

/** The lib/ modules `file` imports, with how. Only relative specifiers name modules of ours. */
export function importsOf(file: string, text = readFileSync(file, 'utf8')): Edge[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const edges: Edge[] = [];
  const add = (spec: ts.Expression | undefined, kind: Edge['kind']) => {
    if (!spec || !ts.isStringLiteralLike(spec) || !spec.text.startsWith('.')) return;
    edges.push({ to: resolve(dirname(file), spec.text.replace(/\.js$/, '.ts')), kind });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) add(node.moduleSpecifier, node.importClause?.isTypeOnly ? 'import type' : 'import');
    else if (ts.isExportDeclaration(node)) add(node.moduleSpecifier, 'export');
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node.arguments[0], 'import()');
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal, 'import type');
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return edges;
}

/** Strongly connected components with more than one file (or a file importing itself): Tarjan. */
export function cycles(graph: Map<string, Edge[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  const strong = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const { to: w } of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).some((e) => e.to === v)) out.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) strong(v);
  return out;
}

/** One loop through a component, as `a.ts -(import)-> b.ts -(import())-> a.ts`, for the report. */
function describeCycle(graph: Map<string, Edge[]>, scc: string[]): string {
  const inScc = new Set(scc);
  const start = scc[0]!;
  // Breadth-first from start back to start inside the component: the shortest loop.
  const prev = new Map<string, { from: string; kind: string }>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const e of graph.get(v) ?? []) {
      if (!inScc.has(e.to) || prev.has(e.to)) continue;
      prev.set(e.to, { from: v, kind: e.kind });
      if (e.to === start) queue.length = 0;
      else queue.push(e.to);
    }
  }
  const path: string[] = [];
  let at = start;
  do {
    const p = prev.get(at)!;
    path.unshift(` -(${p.kind})-> ${relative(repo, at)}`);
    at = p.from;
  } while (at !== start);
  return `${relative(repo, start)}${path.join('')}   [component: ${scc.map((f) => relative(repo, f)).join(', ')}]`;
}

function libGraph(): Map<string, Edge[]> {
  const graph = new Map<string, Edge[]>();
  for (const f of tsFiles(lib)) graph.set(f, importsOf(f));
  return graph;
}

describe('import graph of lib/', () => {
  it('the checker sees static, type-only, re-export and dynamic edges', () => {
    const f = join(lib, 'x', 'a.ts');
    const edges = importsOf(
      f,
      `import { a } from './b.js';\nimport type { T } from '../c.js';\nexport * from './d.js';\n` +
        `async function g() { await import('./e.js'); }\nlet t: import('./f.js').F;\nimport 'node:fs';\n`,
    );
    expect(edges.map((e) => [relative(lib, e.to), e.kind])).toEqual([
      ['x/b.ts', 'import'],
      ['c.ts', 'import type'],
      ['x/d.ts', 'export'],
      ['x/e.ts', 'import()'],
      ['x/f.ts', 'import type'],
    ]);
    const g = new Map<string, Edge[]>([
      ['a', [{ to: 'b', kind: 'import' }]],
      ['b', [{ to: 'a', kind: 'import()' }]],
      ['c', [{ to: 'a', kind: 'import' }]],
    ]);
    expect(cycles(g)).toEqual([['a', 'b']]);
  });

  it('every relative import names a file that exists', () => {
    const graph = libGraph();
    const missing = [...graph].flatMap(([f, edges]) =>
      // A JSON module (data, e.g. lib/spec/seccomp-default.json) is no .ts file: it must exist as itself.
      edges.filter((e) => !graph.has(e.to) && !(e.to.endsWith('.json') && existsSync(e.to))).map((e) => `${relative(repo, f)} -> ${relative(repo, e.to)}`),
    );
    expect(missing).toEqual([]);
  });

  it('has no cycle (static, type-only or dynamic import())', () => {
    const graph = libGraph();
    const found = cycles(graph);
    const report = found.map((scc) => `cycle: ${describeCycle(graph, scc)}`);
    expect(report, report.join('\n')).toEqual([]);
  });
});
