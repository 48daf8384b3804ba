// The npm package as users get it: `npm pack` (prepack builds TypeScript and lays out prebuilds/),
// then `npm install <tarball>` into an empty project on a PATH without any compiler and with an
// invalid nodedir, so only the shipped prebuilds can make it work. Then the installed CLI runs a
// real container. Root only (running a container needs it).
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { testCgroupParent } from '../helpers.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const enabled = process.getuid?.() === 0;
const cgroupParent = testCgroupParent();
const version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;

/** What npm (and the install script it runs through `sh`) needs; compilers deliberately absent. */
const TOOLS = ['node', 'npm', 'npx', 'sh', 'bash', 'env', 'cat', 'ls', 'mkdir', 'rm', 'cp', 'mv', 'chmod', 'ln', 'tar', 'gzip', 'uname', 'id'];
const COMPILERS = ['cc', 'gcc', 'c++', 'g++', 'clang', 'make', 'cmake', 'ninja'];

function which(cmd: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, cmd);
    try {
      if (statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The environment without what the outer `npm test` exported (npm_config_*, npm_lifecycle_*, ...). */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || k === 'INIT_CWD' || k === 'POCKER_INIT' || k === 'POCKER_ROOT') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeout = 300_000): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 });
}

const show = (r: SpawnSyncReturns<string>): string =>
  `exit ${r.status}${r.signal ? ` (signal ${r.signal})` : ''}${r.error ? ` (${r.error.message})` : ''}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

/** Mount points at or below `dir` in our mount namespace. */
function mountsBelow(dir: string): string[] {
  const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => unescape(line.split(' ')[4]!))
    .filter((m) => m === dir || m.startsWith(dir + '/'));
}

/** Removes a cgroup directory and its children, deepest first (cgroup dirs only go with rmdir). */
function removeCgroupTree(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) removeCgroupTree(join(dir, entry.name));
  }
  rmdirSync(dir);
}

function cgroupParents(): string[] {
  const base = '/sys/fs/cgroup';
  const dirs = [join(base, cgroupParent)];
  if (existsSync(base)) {
    for (const h of readdirSync(base, { withFileTypes: true })) if (h.isDirectory()) dirs.push(join(base, h.name, cgroupParent));
  }
  return dirs.filter((d) => existsSync(d));
}

describe.skipIf(!enabled)('the npm package', () => {
  const base = enabled ? mkdtempSync(join(tmpdir(), 'pocker-package-')) : '';
  const packDir = join(base, 'pack');
  const project = join(base, 'project');
  const bin = join(base, 'bin');
  const stateRoot = join(base, 'root');
  /** The packed tarball and the compiler-free environment, from the first test. */
  let packed: { tarball: string; env: NodeJS.ProcessEnv } | undefined;

  afterAll(() => {
    const problems: string[] = [];
    for (const dir of cgroupParents()) {
      try {
        removeCgroupTree(dir);
      } catch (err) {
        problems.push(`cannot remove cgroup ${dir}: ${(err as Error).message}`);
      }
    }
    // Never recurse into a mount (the host image's lower is /): detach any leftover first.
    const mounts = mountsBelow(base).sort((a, b) => b.length - a.length);
    for (const m of mounts) {
      const r = spawnSync('umount', ['-l', m], { encoding: 'utf8' });
      if (r.status !== 0) problems.push(`cannot unmount ${m}: ${r.stderr}`);
    }
    if (mountsBelow(base).length === 0) rmSync(base, { recursive: true, force: true });
    else problems.push(`not removing ${base}: mounts remain below it`);
    expect(mounts, 'mounts left below the temp dir').toEqual([]);
    expect(problems).toEqual([]);
    expect(cgroupParents()).toEqual([]);
    expect(existsSync(base)).toBe(false);
  });

  it('installs from its tarball without a compiler and runs a container', { timeout: 900_000 }, () => {
    for (const d of [packDir, project, bin, stateRoot]) mkdirSync(d, { recursive: true });

    // 1. npm pack: prepack builds dist/ and prebuilds/ in the repository.
    const pack = sh('npm', ['pack', '--pack-destination', packDir, '--no-audit', '--no-fund'], repo, cleanEnv({}), 600_000);
    expect(pack.status, show(pack)).toBe(0);
    const tarballs = readdirSync(packDir).filter((f) => f.endsWith('.tgz'));
    expect(tarballs).toEqual([`pocker-${version}.tgz`]);
    const tarball = join(packDir, tarballs[0]!);

    // The tarball holds the prebuilds and no build intermediates or tests.
    const list = sh('tar', ['-tzf', tarball], base, cleanEnv({}));
    expect(list.status, show(list)).toBe(0);
    const files = list.stdout.split('\n').filter(Boolean);
    expect(files).toContain('package/prebuilds/linux-x64/pocker.node');
    expect(files).toContain('package/prebuilds/linux-x64/pocker-init');
    expect(files).toContain('package/dist/index.js');
    expect(files).toContain('package/bin/pocker.cjs');
    // The bundled CLI: the whole program and the one-command bundles (bin/pocker.cjs BUNDLES), each with its code cache.
    for (const f of ['cli.cjs', 'cli/ps.cjs', 'cli/run.cjs', 'cli/create.cjs', 'cli/images.cjs', 'cli/exec.cjs', 'cli/logs.cjs', 'cli/containers.cjs', 'cli/inspect.cjs']) {
      expect(files).toContain(`package/dist/${f}`);
      expect(files).toContain(`package/dist/${f}.v8cache`);
    }
    // No other one-command bundle: each repeats the shared code and has its own cache (issue 12's size).
    expect(files.filter((f) => /^package\/dist\/cli\/[^/]+\.cjs$/.test(f)).sort()).toEqual(['containers', 'create', 'exec', 'images', 'inspect', 'logs', 'ps', 'run'].map((b) => `package/dist/cli/${b}.cjs`));
    expect(files).toContain('package/LICENSE');
    expect(files.filter((f) => /^package\/(build|test|node_modules|bench|lib|\.ci)\//.test(f))).toEqual([]);

    // 2. A PATH with node, npm and basic tools only: no compiler, make or cmake.
    for (const tool of TOOLS) {
      const found = which(tool);
      if (tool === 'node' || tool === 'npm' || tool === 'npx') expect(found, `${tool} on PATH`).toBeDefined();
      if (found) symlinkSync(found, join(bin, tool));
    }
    const env = cleanEnv({
      PATH: bin,
      // A source build (node-gyp) would need Node's headers from here: make it fail loudly.
      npm_config_nodedir: join(base, 'no-such-nodedir'),
      npm_config_foreground_scripts: 'true',
    });
    for (const c of COMPILERS) expect(which(c, bin), `${c} must not be on the test PATH`).toBeUndefined();
    packed = { tarball, env };
    const probe = sh('sh', ['-c', `command -v ${COMPILERS.join(' ')} || true`], base, env);
    expect(probe.stdout.trim(), show(probe)).toBe('');

    // 3. npm install <tarball> into an empty project.
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'pocker-package-test', version: '1.0.0', private: true }, null, 2));
    const install = sh('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund'], project, env, 600_000);
    expect(install.status, show(install)).toBe(0);
    const installed = join(project, 'node_modules', 'pocker');
    expect(existsSync(join(installed, 'build')), 'no source build happened').toBe(false);
    // The package ships no lib/: its source maps carry the sources they point at.
    const map = JSON.parse(readFileSync(join(installed, 'dist', 'index.js.map'), 'utf8')) as { sources: string[]; sourcesContent?: string[] };
    expect(map.sourcesContent?.length).toBe(map.sources.length);

    // pocker-init's mode survives packing and installing.
    const init = join(installed, 'prebuilds', 'linux-x64', 'pocker-init');
    expect((statSync(init).mode & 0o7777).toString(8)).toBe('755');

    // 4. The installed CLI.
    const ver = sh('npx', ['--no-install', 'pocker', '--version'], project, env);
    expect(ver.status, show(ver)).toBe(0);
    expect(ver.stdout.trim()).toBe(version);

    const run = sh('npx', ['--no-install', 'pocker', 'run', '--rm', '--root', stateRoot, '--cgroup-parent', cgroupParent, 'host', 'echo', 'ok'], project, env);
    expect(run.status, show(run)).toBe(0);
    expect(run.stdout).toBe('ok\n');
  });
  // What an importer meets: `npm init -y` (CommonJS) or "type": "module", the TypeScript a new project
  // gets today and the one pinned here, each compiler's own `tsc --init` (strict, `types: []`, no extra
  // settings), libraries checked too (--skipLibCheck false); then the compiled program runs a container.
  it('a fresh CommonJS and a fresh ESM TypeScript project compile against the typings and run a container', { timeout: 900_000 }, () => {
    expect(packed, 'the tarball from the previous test').toBeDefined();
    const { tarball, env } = packed!;
    const pinned = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies.typescript!;
    const compilers = { latest: 'typescript/bin/tsc', [`pinned ${pinned}`]: 'ts-pinned/bin/tsc' };
    const sources = {
      commonjs: `import pocker = require('pocker');
import type { ExitStatus } from 'pocker';
async function main(): Promise<void> {
  const c = await pocker.run({ image: 'host', cmd: ['echo', 'typed'], stdio: 'inherit', root: ${JSON.stringify(stateRoot)}, cgroupParent: ${JSON.stringify(cgroupParent)} });
  const status: ExitStatus = await c.wait();
  console.log(\`exit \${status.exitCode}\`);
}
void main();
`,
      module: `import { run, PockerError, type ExitStatus } from 'pocker';
const c = await run({ image: 'host', cmd: ['echo', 'typed'], stdio: 'inherit', root: ${JSON.stringify(stateRoot)}, cgroupParent: ${JSON.stringify(cgroupParent)} });
const status: ExitStatus = await c.wait();
console.log(\`exit \${status.exitCode}\`, typeof PockerError);
`,
    };
    for (const [type, source] of Object.entries(sources)) {
      const dir = join(base, `consumer-${type}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `consumer-${type}`, version: '1.0.0', private: true, type }, null, 2));
      const install = sh('npm', ['install', tarball, 'typescript@latest', `ts-pinned@npm:typescript@${pinned}`, '--no-audit', '--no-fund'], dir, env, 600_000);
      expect(install.status, show(install)).toBe(0);
      writeFileSync(join(dir, 'index.ts'), source);
      for (const [name, tsc] of Object.entries(compilers)) {
        rmSync(join(dir, 'tsconfig.json'), { force: true });
        const init = sh('node', [join('node_modules', tsc), '--init'], dir, env);
        expect(init.status, `${type}, TypeScript ${name}: tsc --init\n${show(init)}`).toBe(0);
        const build = sh('node', [join('node_modules', tsc), '-p', '.', '--skipLibCheck', 'false'], dir, env);
        expect(build.status, `${type}, TypeScript ${name}\n${show(build)}`).toBe(0);
        const ran = sh('node', ['index.js'], dir, env);
        expect(ran.status, `${type}, TypeScript ${name}\n${show(ran)}`).toBe(0);
        expect(ran.stdout).toBe(type === 'module' ? 'typed\nexit 0 function\n' : 'typed\nexit 0\n');
      }
    }
  });
});
