// Prints README.md's configuration table, generated from the CLI's flag table (src/cli/config.ts
// FLAGS). Run after `npm run build`: node scripts/readme-flags.mjs
// test/unit/cli/readme-flags.test.ts fails when README.md and FLAGS disagree.
import { flagTableMarkdown } from '../dist/src/cli/flag-table.js';

console.log(flagTableMarkdown());
