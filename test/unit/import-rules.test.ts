// The import rules of STYLE.md, as .dependency-cruiser.cjs writes them (layers import only the
// layers below them; no cycle, type-only imports included), checked by dependency-cruiser over
// the TypeScript sources on every `npm test`. `npm run lint:imports` prints the same report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult } from 'dependency-cruiser';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

test('the sources follow the import rules (dependency-cruiser, .dependency-cruiser.cjs)', async () => {
  const config = createRequire(import.meta.url)(`${ROOT}.dependency-cruiser.cjs`) as { forbidden: unknown[]; options: Record<string, unknown> };
  const cwd = process.cwd();
  process.chdir(ROOT); // the rules' paths are relative to the repository
  let result: ICruiseResult;
  try {
    const reporting = await cruise(['src'], { ...config.options, validate: true, ruleSet: { forbidden: config.forbidden } } as never);
    result = reporting.output as ICruiseResult;
  } finally {
    process.chdir(cwd);
  }
  const violations = result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}${v.cycle === undefined ? '' : ` (cycle: ${v.cycle.map((c) => (typeof c === 'string' ? c : c.name)).join(' → ')})`}`);
  assert.deepEqual(violations, []);
  assert.ok(result.summary.totalCruised > 90, `cruised ${result.summary.totalCruised} modules`);
});
