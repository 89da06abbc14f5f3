// README.md as test input: the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->`
// markers, the fenced code blocks (with the comment line that marks some of them), and the
// blocks that show a file (`<!-- file: PATH -->` on the line before the fence).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const README_PATH = join(fileURLToPath(new URL('../../../', import.meta.url)), 'README.md');

export function readReadme(): string {
  return readFileSync(README_PATH, 'utf8');
}

/** The text between `<!-- name:begin -->` and `<!-- name:end -->`, trimmed. */
export function readmeSection(text: string, name: string): string {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i === -1 || j === -1 || j < i) throw new Error(`README.md has no ${begin} … ${end} section`);
  return text.slice(i + begin.length, j).trim();
}

export interface FencedBlock {
  /** The info string after the opening fence (`sh`, `ts`, …). */
  lang: string;
  /** The lines between the fences. */
  lines: string[];
  /** The line before the opening fence. */
  before: string;
}

/** Every fenced code block (``` fences at the start of a line). */
export function fencedBlocks(text: string): FencedBlock[] {
  const lines = text.split('\n');
  const blocks: FencedBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (open === null) continue;
    let j = i + 1;
    while (j < lines.length && lines[j] !== '```') j++;
    if (j === lines.length) throw new Error(`README.md: unclosed code fence at line ${i + 1}`);
    blocks.push({ lang: open[1] ?? '', lines: lines.slice(i + 1, j), before: i > 0 ? lines[i - 1]! : '' });
    i = j;
  }
  return blocks;
}

/** The blocks whose first line is the comment `# MARK` (e.g. `# readme-flow`), without that line. */
export function markedBlocks(text: string, mark: string): string[][] {
  return fencedBlocks(text)
    .filter((b) => b.lines[0]?.trim() === `# ${mark}`)
    .map((b) => b.lines.slice(1));
}

/** `{ path, content }` of every block preceded by `<!-- file: PATH -->`. */
export function fileBlocks(text: string): Array<{ path: string; content: string }> {
  return fencedBlocks(text).flatMap((b) => {
    const m = /^<!-- file: (\S+) -->$/.exec(b.before.trim());
    return m === null ? [] : [{ path: m[1]!, content: b.lines.join('\n') + '\n' }];
  });
}

/** The rows of a Markdown table: cells trimmed, header and separator rows dropped. */
export function tableRows(table: string): string[][] {
  const rows = table
    .split('\n')
    .filter((l) => l.trim().startsWith('|'))
    .map((l) =>
      l
        .trim()
        .replace(/^\|/, '')
        .replace(/\|$/, '')
        .split(/(?<!\\)\|/)
        .map((c) => c.trim()),
    );
  return rows.slice(2);
}
