// README.md's TypeScript commands, run with the TypeScript a user gets today (7.x, what
// `npm i -D typescript` installs) and with 5.x (issue 9). In a project of one's own (the block
// marked `# readme-typescript`): a fresh directory whose node_modules holds the package as
// `npm pack` makes it, with its dependencies and @types/node linked from this repository's
// node_modules (so the test needs no registry), `npm pkg set type=module` as written, then the
// README's `npx tsc …` line on the README's TypeScript handlers and on its library example; the
// output must load and run. In this repository (`# readme-typescript-repo`): its lines (a
// tsconfig.json in my/, then `npx tsc -p my`) on a handler in a directory beside the README,
// with TypeScript 7. Both compilers are
// devDependencies: `typescript` (5.x, the project's own build) and `typescript-7` (an npm alias).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';

import { markedBlocks, readReadme } from '../helpers/readme.js';
import { REPO_ROOT, cleanEnv, tempDir } from '../helpers/cli-processes.js';

const COMPILERS = [
  { major: 7, tsc: join(REPO_ROOT, 'node_modules', 'typescript-7', 'bin', 'tsc') },
  { major: 5, tsc: join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc') },
] as const;

// Compiling restpipe's declarations and @types/node takes a few seconds with 5.x on a busy machine.
const STEP_TIMEOUT_MS = 90_000;

function run(command: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  const r = spawnSync(command, args, { cwd, env: cleanEnv({ npm_config_update_notifier: 'false' }), encoding: 'utf8', timeout: STEP_TIMEOUT_MS });
  if (r.error !== undefined) throw r.error;
  return r;
}

function assertOk(r: SpawnSyncReturns<string>, what: string): void {
  assert.equal(r.status, 0, `${what} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
}

/** The README block marked `# MARK`, and its lines that start with `prefix`. */
function readmeLines(mark: string, prefix: string): string[] {
  const blocks = markedBlocks(readReadme(), mark);
  assert.equal(blocks.length, 1, `README.md has one block marked # ${mark}`);
  return blocks[0]!.filter((l) => l.startsWith(prefix));
}

/** The arguments of the README's one `npx tsc …` line in the block marked `# MARK`. */
function tscArgs(mark: string): string[] {
  const lines = readmeLines(mark, 'npx tsc ');
  assert.equal(lines.length, 1, `one npx tsc line in # ${mark}`);
  return lines[0]!.slice('npx tsc '.length).trim().split(/\s+/);
}

test('the compilers are the TypeScript majors this test claims', () => {
  for (const { major, tsc } of COMPILERS) {
    const r = run(process.execPath, [tsc, '--version'], REPO_ROOT);
    assertOk(r, `tsc ${major} --version`);
    assert.match(r.stdout, new RegExp(`^Version ${major}\\.`));
  }
});

describe('a project of its own, with the packed package installed', () => {
  let project: { dir: string; remove: () => Promise<void> };

  before(async () => {
    project = await tempDir('restpipe-ts-');
    // The package exactly as published: `npm pack` of the build this test run uses (no rebuild).
    const pack = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', project.dir], REPO_ROOT);
    assertOk(pack, 'npm pack');
    const [{ filename }] = JSON.parse(pack.stdout) as [{ filename: string }];
    const modules = join(project.dir, 'node_modules');
    await mkdir(modules);
    assertOk(run('tar', ['-xzf', join(project.dir, filename), '-C', modules], project.dir), 'tar');
    await rm(join(project.dir, filename));
    const pkg = join(modules, 'restpipe');
    await rename(join(modules, 'package'), pkg);
    // What `npm install` would add beside it: restpipe's dependencies, and the README's @types/node.
    const { dependencies } = JSON.parse(await readFile(join(pkg, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const name of [...Object.keys(dependencies), '@types/node']) {
      const link = join(modules, name);
      await mkdir(dirname(link), { recursive: true });
      await symlink(join(REPO_ROOT, 'node_modules', name), link, 'dir');
    }
    await writeFile(join(project.dir, 'package.json'), JSON.stringify({ name: 'my-handlers', version: '1.0.0', private: true }) + '\n');
    // The README's `npm pkg set …` lines as written (its `npm i` line is the install above).
    for (const line of readmeLines('readme-typescript', 'npm pkg ')) assertOk(run('npm', line.split(/\s+/).slice(1), project.dir), line);
    assert.equal((JSON.parse(await readFile(join(project.dir, 'package.json'), 'utf8')) as { type?: string }).type, 'module');
    await copyFile(join(REPO_ROOT, 'examples', 'webserver.ts'), join(project.dir, 'handlers.ts'));
    await copyFile(join(REPO_ROOT, 'test', 'fixtures', 'library-example.ts'), join(project.dir, 'library-example.ts'));
  });
  after(() => project?.remove());

  for (const { major, tsc } of COMPILERS) {
    test(`TypeScript ${major}: the README's tsc line compiles the handlers and the library example, and they run`, async () => {
      for (const name of await readdir(project.dir)) if (name.endsWith('.js')) await rm(join(project.dir, name));
      // The README's line names handlers.ts; the library example is compiled by the same line.
      const r = run(process.execPath, [tsc, ...tscArgs('readme-typescript'), 'library-example.ts'], project.dir);
      assertOk(r, `tsc ${major} ${tscArgs('readme-typescript').join(' ')} library-example.ts`);

      const handler = run(
        process.execPath,
        ['--input-type=module', '-e', "const { WebServer } = await import('./handlers.js'); console.log(JSON.stringify(new WebServer().get_uploads()));"],
        project.dir,
      );
      assertOk(handler, 'loading handlers.js');
      assert.deepEqual(JSON.parse(handler.stdout), ['text/csv; charset=utf-8', 0, 'name,bytes,from\n']);

      const example = run(process.execPath, ['library-example.js'], project.dir);
      assertOk(example, 'node library-example.js');
      assert.match(example.stdout, /^client → server GET time: 0 \{"time_from_server":[\d.]+\}$/m);
      assert.match(example.stdout, /^server → client POST reading: 0 \{"stored":\{"celsius":21\.5\}\}$/m);
      assert.equal(example.stdout.trim().split('\n').at(-1), 'done');
    });
  }
});

describe('in this repository, a handler beside the README', () => {
  let dir: string;
  before(async () => {
    await mkdir(join(REPO_ROOT, 'tmp'), { recursive: true }); // git-ignored
    dir = await mkdtemp(join(REPO_ROOT, 'tmp', 'ts-handlers-'));
    await writeFile(
      join(dir, 'handlers.ts'),
      [
        "import { reply, type HandlerContext, type PostData } from 'restpipe';",
        'export class MyHandlers {',
        '  post_size(ctx: HandlerContext, [, data]: PostData) {',
        '    return reply({ data: { bytes: Buffer.isBuffer(data) ? data.length : 0, from: ctx.peer.name } });',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
  });
  after(() => rm(dir, { recursive: true, force: true }));

  // TypeScript 7 only: 5.x loads every @types package here by itself and compiles this the same
  // way, and on 2 busy cores it takes ~15 s more.
  for (const { major, tsc } of COMPILERS.filter((c) => c.major === 7)) {
    test(`TypeScript ${major}: the README's in-repository tsc lines`, async () => {
      await rm(join(dir, 'handlers.js'), { force: true });
      const rel = relative(REPO_ROOT, dir);
      // `my` in the README's lines is this test's directory; the echo line is run by sh as written.
      const inDir = (line: string): string => line.replaceAll(' my/', ` ${rel}/`).replace(/ my$/, ` ${rel}`);
      for (const line of readmeLines('readme-typescript-repo', 'echo ')) assertOk(run('sh', ['-c', inDir(line)], REPO_ROOT), line);
      const args = inDir(`npx tsc ${tscArgs('readme-typescript-repo').join(' ')}`).split(' ').slice(2);
      assertOk(run(process.execPath, [tsc, ...args], REPO_ROOT), `tsc ${major} ${args.join(' ')}`);
      const loaded = run(process.execPath, ['--input-type=module', '-e', `const m = await import('./${rel}/handlers.js'); console.log(typeof m.MyHandlers);`], REPO_ROOT);
      assertOk(loaded, 'loading handlers.js');
      assert.equal(loaded.stdout.trim(), 'function');
    });
  }
});
