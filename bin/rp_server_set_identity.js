#!/usr/bin/env node
// The original RestPipe's command: rp_server_set_identity KEY CRT CA
import { run } from '../dist/src/cli/main.js';

await run(['server', 'set-identity', ...process.argv.slice(2)]);
