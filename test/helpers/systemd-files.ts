// Reading packaging/systemd/ as systemd would: unit files (sections of Key=value lines) and the
// example environment files (VARIABLE=value lines, with `#VARIABLE=value` lines showing defaults
// and alternatives). Only the syntax those files use is accepted; anything else throws, so a
// line this reader would misread fails the tests loudly instead of being skipped.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './cli-processes.js';

/** packaging/systemd/ in the repository. */
export const SYSTEMD_DIR = join(REPO_ROOT, 'packaging', 'systemd');

/** The two roles and their packaged files. */
export const UNIT_ROLES = ['server', 'client'] as const;
export type UnitRole = (typeof UNIT_ROLES)[number];
export const unitFileName = (role: UnitRole): string => `restpipe-${role}.service`;
export const envFileName = (role: UnitRole): string => `restpipe-${role}.env`;
export const SYSUSERS_FILE = 'restpipe.sysusers.conf';

/** A unit file: each section's settings in file order (a key may repeat, as Environment= does). */
export type UnitFile = Map<string, Array<[key: string, value: string]>>;

/** Parses a unit file's text. */
export function parseUnitFile(text: string, name = 'unit'): UnitFile {
  const unit: UnitFile = new Map();
  let section: Array<[string, string]> | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const where = `${name}:${i + 1}`;
    if (line.endsWith('\\')) throw new Error(`${where}: continuation lines are not read here`);
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header !== null) {
      section = [];
      unit.set(header[1]!, section);
      return;
    }
    const setting = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (setting === null || section === undefined) throw new Error(`${where}: not a setting: ${raw}`);
    section.push([setting[1]!, setting[2]!]);
  });
  return unit;
}

/** Every value of `key` in `section`, in order. */
export function unitValues(unit: UnitFile, section: string, key: string): string[] {
  return (unit.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);
}

/** The value of `key` in `section` (the last one wins, as in systemd); throws when absent. */
export function unitValue(unit: UnitFile, section: string, key: string): string {
  const values = unitValues(unit, section, key);
  if (values.length === 0) throw new Error(`no ${key}= in [${section}]`);
  return values[values.length - 1]!;
}

/** The assignments of `Environment=` lines (`A=1 B=2` forms without quotes). */
export function unitEnvironment(unit: UnitFile): Record<string, string> {
  const env: Record<string, string> = {};
  for (const value of unitValues(unit, 'Service', 'Environment')) {
    for (const word of value.split(/\s+/)) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(word);
      if (m === null) throw new Error(`Environment=${value}: only unquoted NAME=value words are read here`);
      env[m[1]!] = m[2]!;
    }
  }
  return env;
}

/** A time span as systemd writes it (`20`, `20s`, `1min 30s`, `500ms`), in seconds. */
export function systemdSeconds(value: string): number {
  const units: Record<string, number> = { '': 1, s: 1, sec: 1, ms: 0.001, m: 60, min: 60, h: 3600 };
  let total = 0;
  for (const part of value.trim().split(/\s+/)) {
    const m = /^(\d+(?:\.\d+)?)([a-z]*)$/.exec(part);
    const unit = m === null ? undefined : units[m[2]!];
    if (m === null || unit === undefined) throw new Error(`not a time span systemd reads here: ${value}`);
    total += Number(m[1]) * unit;
  }
  return total;
}

/** One `NAME=value` line of an environment file. */
export interface EnvAssignment {
  name: string;
  value: string;
  /** 1-based, for messages. */
  line: number;
  /** `#NAME=value`: a default or an alternative shown, not in effect. */
  commented: boolean;
}

/**
 * Parses an example environment file: `NAME=value` lines are in effect, `#NAME=value` lines (no
 * space after `#`) show a default or an alternative, `# …` lines and blank lines are prose.
 */
export function parseEnvFile(text: string, name = 'env file'): EnvAssignment[] {
  const out: EnvAssignment[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '' || raw.startsWith('# ') || raw === '#') return;
    const m = /^(#?)([A-Z_][A-Z0-9_]*)=(.*)$/.exec(raw);
    if (m === null) throw new Error(`${name}:${i + 1}: neither NAME=value, #NAME=value nor a '# ' comment: ${raw}`);
    if (/^["']/.test(m[3]!)) throw new Error(`${name}:${i + 1}: quoted values are not read here`);
    out.push({ commented: m[1] === '#', name: m[2]!, value: m[3]!, line: i + 1 });
  });
  return out;
}

/** Reads and parses a packaged unit file. */
export function readUnit(role: UnitRole): UnitFile {
  return parseUnitFile(readFileSync(join(SYSTEMD_DIR, unitFileName(role)), 'utf8'), unitFileName(role));
}

/** Reads and parses a packaged example environment file. */
export function readEnvExample(role: UnitRole): EnvAssignment[] {
  return parseEnvFile(readFileSync(join(SYSTEMD_DIR, envFileName(role)), 'utf8'), envFileName(role));
}

/** The variables an environment file sets (its lines in effect), as systemd passes them on. */
export function activeEnv(assignments: EnvAssignment[]): Record<string, string> {
  return Object.fromEntries(assignments.filter((a) => !a.commented).map((a) => [a.name, a.value]));
}
