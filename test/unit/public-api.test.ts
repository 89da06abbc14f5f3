// The public API is narrow and complete (issue 10): every type that appears in the signature of
// something 'restpipe' exports is exported too (a user can name what they are given), and the
// server and client are interfaces, not the classes with their internals. Read from the sources
// with the TypeScript compiler's own symbol tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

/** Exported names whose declarations mention a type of src/ that is not exported. */
function unexportedTypes(entry: string): string[] {
  const program = ts.createProgram([`${SRC}${entry}`], { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true, noEmit: true, skipLibCheck: true, types: ['node'] });
  const checker = program.getTypeChecker();
  const file = program.getSourceFile(`${SRC}${entry}`)!;
  const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(file)!);
  const resolve = (s: ts.Symbol): ts.Symbol => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const exported = new Set(exports.map(resolve));
  const problems: string[] = [];
  for (const symbol of exports) {
    for (const decl of resolve(symbol).declarations ?? []) {
      const visit = (node: ts.Node): void => {
        // Bodies are not signatures.
        if (ts.isBlock(node)) return;
        if (ts.isTypeReferenceNode(node) || ts.isExpressionWithTypeArguments(node)) {
          const target = ts.isTypeReferenceNode(node) ? node.typeName : node.expression;
          const referenced = checker.getSymbolAtLocation(target);
          const real = referenced === undefined ? undefined : resolve(referenced);
          const where = real?.declarations?.[0]?.getSourceFile().fileName ?? '';
          // Only our own declarations must be exported: type parameters and Node's or a
          // library's types are the user's to have.
          if (real !== undefined && where.startsWith(SRC) && !(real.flags & ts.SymbolFlags.TypeParameter) && !exported.has(real)) {
            problems.push(`${symbol.name} uses ${real.name} (${where.slice(SRC.length)}), which '${entry}' does not export`);
          }
        }
        // A private member (#field, private) is not part of the signature.
        if ((ts.isPropertyDeclaration(node) || ts.isMethodDeclaration(node)) && (ts.isPrivateIdentifier(node.name) || ts.getCombinedModifierFlags(node) & ts.ModifierFlags.Private)) return;
        ts.forEachChild(node, visit);
      };
      visit(decl);
    }
  }
  return [...new Set(problems)].sort();
}

test("every type in a public signature of 'restpipe' is exported", () => {
  assert.deepEqual(unexportedTypes('index.ts'), []);
});

test("'restpipe' exports the server and client as interfaces, and no option helpers", async () => {
  const api = await import('../../src/index.js');
  for (const helper of ['durationOption', 'countOption', 'invalidOption', 'resolvePipeTiming', 'parseNoun', 'isJsonMimetype', 'PipeServer', 'PipeClient', 'DialError']) {
    assert.equal(helper in api, false, `${helper} is not exported`);
  }
});

test("every type in a public signature of 'restpipe/wire' and 'restpipe/identity' is exported", () => {
  assert.deepEqual(unexportedTypes('wire/index.ts'), []);
  assert.deepEqual(unexportedTypes('identity/index.ts'), []);
});
