import { FLAGS, type FlagSpec } from './config.js';

/**
 * The README's configuration table, generated from {@link FLAGS} so that the docs cannot drift
 * from what the CLI reads (a unit test compares README.md with this; `node
 * scripts/readme-flags.mjs` prints it after `npm run build`).
 */
export function flagTableMarkdown(): string {
  const rows: string[][] = [['flag', 'role', 'environment', 'default', 'meaning']];
  for (const spec of FLAGS) {
    rows.push([flagCell(spec), roleCell(spec), envCell(spec), spec.default === undefined ? '' : escape(spec.default), escape(spec.description)]);
    if (spec.name === 'http') rows.push(['`--no-http`', 'both', '', '', 'run without a local gateway']);
  }
  rows.push(['`--config FILE`', 'both', '`RP_CONFIG`', '', 'a JSON object of flag names (without `--`) to values; flags and environment win over it']);
  const [head, ...body] = rows;
  return [line(head!), line(head!.map(() => '---')), ...body.map(line)].join('\n');
}

function flagCell(spec: FlagSpec): string {
  return escape(spec.kind === 'boolean' ? `\`--${spec.name}\`` : `\`--${spec.name} ${spec.arg ?? 'VALUE'}\``);
}

function roleCell(spec: FlagSpec): string {
  return spec.roles.length === 2 ? 'both' : spec.roles[0]!;
}

function envCell(spec: FlagSpec): string {
  const env = [...spec.env, ...(spec.alsoEnv ?? [])];
  return env.map((e) => `\`${e}\``).join(', ');
}

function escape(text: string): string {
  return text.replaceAll('|', '\\|');
}

function line(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}
