/**
 * The module graph of src/ and bindings/, read with the TypeScript compiler API: every import, export-from and
 * import() type, type-only ones included (a type cycle is still two modules that must change together).
 * Asserts no cycles, and that the transport (src/http/) imports no domain module.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { ROOT } from '../helpers/media.js';

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
    else if (p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function specifiers(file: string): string[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const visit = (n: ts.Node): void => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) out.push(n.moduleSpecifier.text);
    else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) out.push(n.argument.literal.text);
    else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteral(n.arguments[0])) out.push(n.arguments[0].text);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** A relative specifier to the file it names ('./x.js' -> x.ts, x.d.ts or x/index.ts); null for packages. */
function resolveSpecifier(from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const base = resolve(dirname(from), spec).replace(/\.js$/, '');
  for (const c of [`${base}.ts`, `${base}.d.ts`, join(base, 'index.ts')]) if (existsSync(c)) return c;
  throw new Error(`${relative(ROOT, from)} imports ${spec}, which names no file`);
}

function graph(): Map<string, string[]> {
  const files = [...sourceFiles(join(ROOT, 'src')), ...sourceFiles(join(ROOT, 'bindings'))];
  const g = new Map<string, string[]>();
  for (const f of files) {
    const deps = specifiers(f).map((s) => resolveSpecifier(f, s)).filter((d): d is string => d !== null);
    g.set(relative(ROOT, f), [...new Set(deps.map((d) => relative(ROOT, d)))]);
  }
  return g;
}

/** Strongly connected components of more than one module (or a module importing itself): Tarjan. */
function cycles(g: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (g.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) strong(v);
  return out;
}

test('src/ and bindings/ have no import cycles', () => {
  const g = graph();
  assert.ok(g.size > 100, `${g.size} modules read`);
  assert.deepEqual(cycles(g), []);
});

test('the finder sees a cycle when there is one', () => {
  const g = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']], ['e', ['e']]]);
  assert.deepEqual(cycles(g), [['a', 'b', 'c'], ['e']]);
});

test('src/http/ (transport) imports no domain module', () => {
  const domain = /^src\/(auth|store|stream|api|integrations|rules|media|analytics|inference|camera|services|db|recording|tracking)\//;
  const bad: string[] = [];
  for (const [file, deps] of graph()) {
    if (!file.startsWith('src/http/')) continue;
    for (const d of deps) if (domain.test(d)) bad.push(`${file} -> ${d}`);
  }
  assert.deepEqual(bad, []);
});
