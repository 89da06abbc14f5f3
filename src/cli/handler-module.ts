import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ErrorCode, RestpipeError } from '../errors.js';

/**
 * Loads `--handlers MODULE[#EXPORT]` (SPEC §5): a file path (relative to the working
 * directory) or a package name, and its default export or the named one. The original's
 * `RP_EVENT_HANDLER_FQ_CLASS` value `package.module.Class` is not a path; `MODULE#EXPORT`
 * is its equivalent.
 * @throws RestpipeError handler_invalid naming the module and what is missing.
 */
export async function loadHandlerModule(spec: string, cwd = process.cwd()): Promise<unknown> {
  const hash = spec.lastIndexOf('#');
  const modulePart = hash === -1 ? spec : spec.slice(0, hash);
  const exportName = hash === -1 ? 'default' : spec.slice(hash + 1);
  if (modulePart === '' || exportName === '') {
    throw new RestpipeError(ErrorCode.HANDLER_INVALID, `--handlers ${spec}: expected MODULE or MODULE#EXPORT`);
  }
  const url = resolveModule(modulePart, cwd, spec);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const hint = modulePart.endsWith('.ts') ? ' (a .ts module needs a TypeScript loader, e.g. node --import tsx; or compile it to .js)' : '';
    throw new RestpipeError(ErrorCode.HANDLER_INVALID, `--handlers ${spec}: cannot load the module: ${e.code ? `${e.code}: ` : ''}${e.message}${hint}`, { cause: err });
  }
  if (!(exportName in mod) || mod[exportName] === undefined) {
    const names = Object.keys(mod).join(', ') || 'none';
    throw new RestpipeError(
      ErrorCode.HANDLER_INVALID,
      `--handlers ${spec}: the module has no ${exportName === 'default' ? 'default export' : `export named '${exportName}'`} (exports: ${names})`,
    );
  }
  return mod[exportName];
}

function resolveModule(modulePart: string, cwd: string, spec: string): string {
  const looksLikePath = modulePart.startsWith('.') || isAbsolute(modulePart) || /\.(m?js|cjs|ts|mts)$/.test(modulePart);
  if (looksLikePath) {
    const path = resolve(cwd, modulePart);
    if (!existsSync(path)) throw new RestpipeError(ErrorCode.HANDLER_INVALID, `--handlers ${spec}: file not found: ${path}`);
    return pathToFileURL(path).href;
  }
  try {
    return pathToFileURL(createRequire(resolve(cwd, 'noop.js')).resolve(modulePart)).href;
  } catch {
    throw new RestpipeError(ErrorCode.HANDLER_INVALID, `--handlers ${spec}: no file or package '${modulePart}' (paths start with ./ or /)`);
  }
}
