#!/usr/bin/env node
// The restpipe CLI; the TypeScript is compiled by `npm run build` (run by `prepare` on npm ci).
import { run } from '../dist/src/cli/main.js';

await run(process.argv.slice(2));
