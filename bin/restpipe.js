#!/usr/bin/env node
// The restpipe CLI; the TypeScript is compiled by `npm run build` (run by `prepare` on npm ci).
// The signal handlers come first, before the rest of the CLI loads: see src/cli/signals.ts.
import { NodeSignals } from '../dist/src/cli/signals.js';

const signals = NodeSignals.install();
const { run } = await import('../dist/src/cli/main.js');
await run(process.argv.slice(2), signals);
