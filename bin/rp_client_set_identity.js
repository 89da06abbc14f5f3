#!/usr/bin/env node
// The original RestPipe's command: rp_client_set_identity KEY CRT [CA]
import { run } from '../dist/src/cli/main.js';

await run(['client', 'set-identity', ...process.argv.slice(2)]);
