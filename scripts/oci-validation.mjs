#!/usr/bin/env node
// Runs opencontainers/runtime-tools' validation programs against one OCI runtime and counts their
// TAP assertions (see bench/README.md, "OCI runtime-tools validation", for how to build them).
//
//   node scripts/oci-validation.mjs --runtime /usr/sbin/runc [--dir DIR] [--only a,b] [--timeout 300]
//
// DIR holds the built programs (one executable per validation/<name>), `runtimetest` (static) and
// `rootfs-amd64.tar.gz` (copied from the runtime-tools checkout): the programs look for the last two
// in their working directory. Must run as root.
//
// Isolation (nothing outlives the run, nothing outside our own cgroups is touched):
// - the programs call the runtime without --root: RUNTIME is a wrapper script that execs the runtime
//   with `--root <tmp>/state`;
// - TMPDIR (where the programs unpack their bundles) is <tmp>/tmp;
// - the programs use fixed cgroupsPaths (`/cgrouptest`, `testdir/cgrouptest/container`): each one
//   runs in its own cgroup `pocker-ocival-<pid>/<program>` (in every hierarchy, below this process's
//   own cgroup), inside a new cgroup namespace rooted there and a private mount namespace whose
//   /sys/fs/cgroup is mounted again from that namespace, so `/cgrouptest` lands in
//   <hierarchy>/.../pocker-ocival-<pid>/<program>/cgrouptest. Afterwards any process left in that
//   tree is killed (they are the program's containers), containers left in the state dir are deleted
//   (from inside the same namespaces), the cgroups and the temp dir are removed.
// - crun 1.x refuses a hybrid cgroup host whose cgroup2 mount lists a controller (here: hugetlb).
//   In the namespace above the cgroup2 root is our own cgroup, whose cgroup.controllers lists what
//   its parent delegates: nothing, so crun runs as is. Should it still refuse,
//   --hide-cgroup2-controllers bind-mounts an empty file over <unified>/cgroup.controllers inside
//   the private mount namespace, as bench/run.mjs does.
//
// Prints per-program and total counts; writes JSON to bench/results/oci-validation-<runtime>-<date>.json.
// Exit code: 0 when every program finished (whatever its failures), 1 when one timed out.
import { spawn, spawnSync } from 'node:child_process';
import {
  accessSync, chmodSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync,
  rmSync, rmdirSync, statSync, statfsSync, writeFileSync,
} from 'node:fs';
import { arch, release, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CGROUP_ROOT = '/sys/fs/cgroup';
const CGROUP2_SUPER_MAGIC = 0x63677270;
const GOARCH = { x64: 'amd64', arm64: 'arm64', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' }[arch()] ?? arch();

const USAGE = `usage: node scripts/oci-validation.mjs --runtime PATH [options] [DIR]
  --runtime PATH     the OCI runtime (runc, crun, pocker-init …); RUNTIME_ARGS (env) are added before --root
  --dir DIR          built validation programs + runtimetest + rootfs-${GOARCH}.tar.gz
                     (default: $OCI_VALIDATION_DIR or /var/tmp/oci-validation/bin)
  --only LIST        comma-separated program names (default: all in DIR)
  --skip LIST        comma-separated program names to leave out
  --timeout SEC      per program (default 300)
  --label NAME       name in the report and the JSON file (default: the runtime's basename)
  --hide-cgroup2-controllers   hide <cgroup2 mount>/cgroup.controllers from the runtime (crun on a
                     hybrid host, if it refuses to run: see the header)
  --verbose          print each program's TAP output
  --keep-tap DIR     write each program's stdout/stderr to DIR/<program>.tap/.err
  --no-json          do not write bench/results/oci-validation-*.json`;

function die(msg) {
  process.stderr.write(`oci-validation: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = {
    runtime: null, dir: process.env.OCI_VALIDATION_DIR || '/var/tmp/oci-validation/bin', only: null, skip: [],
    timeout: 300, label: null, hide: false, verbose: false, keepTap: null, json: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? a.split(/=(.*)/s, 2) : [a, undefined];
    const val = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) die(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    const list = () => val().split(',').map((s) => s.trim().replace(/\.t$/, '')).filter(Boolean);
    switch (flag) {
      case '--runtime': o.runtime = val(); break;
      case '--dir': o.dir = val(); break;
      case '--only': o.only = list(); break;
      case '--skip': o.skip = list(); break;
      case '--timeout': o.timeout = Number(val()); if (!(o.timeout > 0)) die('--timeout: expected seconds > 0'); break;
      case '--label': o.label = val(); break;
      case '--hide-cgroup2-controllers': o.hide = true; break;
      case '--verbose': o.verbose = true; break;
      case '--keep-tap': o.keepTap = resolve(val()); break;
      case '--no-json': o.json = false; break;
      case '-h': case '--help': process.stdout.write(`${USAGE}\n`); process.exit(0); break;
      default:
        if (a.startsWith('-')) die(`unknown option ${a}\n${USAGE}`);
        o.dir = a;
    }
  }
  if (!o.runtime) die(`--runtime is required\n${USAGE}`);
  return o;
}

const sh = (argv, opts = {}) => {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', ...opts });
  return { status: r.status, stdout: (r.stdout ?? '').trim(), stderr: (r.stderr ?? '').trim(), error: r.error };
};
const shq = (s) => `'${String(s).replaceAll("'", "'\\''")}'`;

// ---------------------------------------------------------------------------------------------
// TAP

/**
 * Counts the TAP test lines of a program's stdout: `ok`/`not ok` at the start of a line (indented
 * lines are YAML diagnostics, which quote the nested runtimetest output); `# SKIP` and `# TODO`
 * directives are counted apart (a `not ok … # TODO` is not a failure).
 */
export function parseTap(text) {
  const r = { plan: null, pass: 0, fail: 0, skip: 0, todo: 0, bailOut: null, failures: [], skips: [], errors: [] };
  let yaml = null; // the lines of a top-level YAML diagnostic block being read
  for (const line of text.split('\n')) {
    let m;
    if (line === '  ---') { yaml = []; continue; }
    if (yaml !== null) {
      if (line !== '  ...') { yaml.push(line); continue; }
      // A block that follows no test line: the program reports an error it did not count as an
      // assertion (the hook programs end with `1..0` and such a block when the hook misbehaved).
      if (r.pass + r.fail + r.skip + r.todo === 0) {
        try {
          const d = JSON.parse(yaml.join('\n'));
          if (d && typeof d === 'object' && d.error) r.errors.push(String(d.error).split('\n')[0]);
        } catch { /* not JSON: ignored */ }
      }
      yaml = null;
      continue;
    }
    if ((m = /^1\.\.(\d+)/.exec(line))) { r.plan = (r.plan ?? 0) + Number(m[1]); continue; }
    if ((m = /^Bail out!\s*(.*)/.exec(line))) { r.bailOut = m[1]; continue; }
    m = /^(not )?ok\b\s*(\d+)?\s*(?:-\s*)?(.*)$/.exec(line);
    if (!m) continue;
    const [, not, , rest] = m;
    const directive = /#\s*(SKIP|TODO)\b\s*(.*)$/i.exec(rest);
    const desc = (directive ? rest.slice(0, directive.index) : rest).trim();
    if (directive && directive[1].toUpperCase() === 'SKIP') { r.skip++; r.skips.push(directive[2] || desc); continue; }
    if (directive) { r.todo++; continue; }
    if (not) { r.fail++; r.failures.push(desc); } else r.pass++;
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// cgroups

/** { v2: bool, hierarchies: [{ mount, fstype, opts, cgroup }], symlinks: [[name, target]] } */
function cgroupLayout() {
  const v2 = Number(statfsSync(CGROUP_ROOT).type) === CGROUP2_SUPER_MAGIC;
  const own = new Map(); // hierarchy key -> own cgroup path
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (m) own.set(m[2] === '' ? '' : m[2], m[3]);
  }
  const hierarchies = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep < 0) continue;
    const fstype = f[sep + 1];
    const mount = f[4];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    if (mount !== CGROUP_ROOT && dirname(mount) !== CGROUP_ROOT) continue;
    const opts = (f[sep + 3] ?? '').split(',').filter((x) => x !== 'rw' && x !== 'ro');
    let key = '';
    if (fstype === 'cgroup') {
      // /proc/self/cgroup names a v1 hierarchy by its controllers (and name=), comma-separated.
      const ctl = opts.filter((x) => !x.includes('=') && !['xattr', 'noprefix', 'clone_children', 'cpuset_v2_mode', 'nsdelegate', 'memory_recursiveprot', 'memory_localevents', 'favordynmods'].includes(x));
      const names = opts.filter((x) => x.startsWith('name='));
      key = [...own.keys()].find((k) => {
        const parts = k.split(',');
        return parts.length === ctl.length + names.length && [...ctl, ...names].every((c) => parts.includes(c));
      });
      if (key === undefined) continue;
    }
    hierarchies.push({ mount, fstype, opts, cgroup: own.get(key) ?? '/' });
  }
  const symlinks = [];
  if (!v2) {
    for (const d of readdirSync(CGROUP_ROOT, { withFileTypes: true })) {
      if (d.isSymbolicLink()) symlinks.push([d.name, sh(['readlink', join(CGROUP_ROOT, d.name)]).stdout]);
    }
  }
  return { v2, hierarchies, symlinks };
}

function childDirs(dir) {
  try { return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name); } catch { return []; }
}

function pidsIn(dir) {
  const out = new Set();
  const walk = (d) => {
    try {
      for (const l of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (l.trim()) out.add(Number(l));
    } catch { /* gone */ }
    for (const c of childDirs(d)) walk(join(d, c));
  };
  walk(dir);
  out.delete(process.pid);
  return [...out].filter((p) => Number.isInteger(p) && p > 1);
}

/** mkdir -p of a cgroup; in a v1 cpuset hierarchy each new level gets its parent's cpus and mems
 * (a cpuset cgroup starts empty, and a task cannot join an empty one). */
function mkCgroup(dir) {
  if (existsSync(dir)) return;
  mkCgroup(dirname(dir));
  mkdirSync(dir);
  for (const f of ['cpuset.cpus', 'cpuset.mems']) {
    const file = join(dir, f);
    if (!existsSync(file) || readFileSync(file, 'utf8').trim() !== '') continue;
    writeFileSync(file, readFileSync(join(dirname(dir), f), 'utf8').trim());
  }
}

async function rmCgroupTree(dir) {
  let ok = true;
  for (const c of childDirs(dir)) ok = (await rmCgroupTree(join(dir, c))) && ok;
  for (let i = 0; i < 80; i++) {
    try { rmdirSync(dir); return ok; } catch (err) {
      if (err.code === 'ENOENT') return ok;
      if (err.code !== 'EBUSY') return false;
      // A frozen or just-emptied cgroup: the kernel may need a moment to let it go.
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) die('must run as root');
  const dir = resolve(o.dir);
  const runtime = resolve(o.runtime.includes('/') ? o.runtime : (sh(['sh', '-c', `command -v ${shq(o.runtime)}`]).stdout || o.runtime));
  try { accessSync(runtime, constants.X_OK); } catch { die(`${runtime}: not an executable`); }
  for (const f of ['runtimetest', `rootfs-${GOARCH}.tar.gz`]) {
    if (!existsSync(join(dir, f))) die(`${join(dir, f)} is missing (see bench/README.md, "OCI runtime-tools validation")`);
  }
  let programs = readdirSync(dir).filter((n) => {
    if (n === 'runtimetest' || n.endsWith('.tar.gz')) return false;
    try { const st = statSync(join(dir, n)); return st.isFile() && (st.mode & 0o111) !== 0; } catch { return false; }
  }).sort();
  const nameOf = (f) => f.replace(/\.t$/, '');
  if (o.only) {
    const missing = o.only.filter((n) => !programs.some((p) => nameOf(p) === n));
    if (missing.length) die(`--only: not in ${dir}: ${missing.join(', ')}`);
    programs = programs.filter((p) => o.only.includes(nameOf(p)));
  }
  programs = programs.filter((p) => !o.skip.includes(nameOf(p)));
  if (!programs.length) die(`no validation programs in ${dir}`);

  const version = (sh([runtime, '--version']).stdout || '').split('\n')[0];
  const label = o.label ?? basename(runtime);
  const layout = cgroupLayout();
  const unified = layout.hierarchies.find((h) => h.fstype === 'cgroup2');
  const hybrid = !layout.v2 && unified;
  const hide = o.hide && Boolean(hybrid);

  const tmp = mkdtempSync(join(tmpdir(), 'pocker-ocival-'));
  const state = join(tmp, 'state');
  const tmpTmp = join(tmp, 'tmp');
  mkdirSync(state);
  mkdirSync(tmpTmp);
  // Like /tmp: containers with a user namespace (linux_uid_mappings) must reach their bundle.
  chmodSync(tmp, 0o755);
  chmodSync(tmpTmp, 0o1777);
  const empty = join(tmp, 'empty');
  writeFileSync(empty, '');
  const wrapper = join(tmp, 'runtime');
  const extra = (process.env.RUNTIME_ARGS ?? '').split(/\s+/).filter(Boolean).map(shq).join(' ');
  writeFileSync(wrapper, `#!/bin/sh\nexec ${shq(runtime)} ${extra} --root ${shq(state)} "$@"\n`);
  chmodSync(wrapper, 0o755);
  const parentName = `pocker-ocival-${process.pid}`;
  const parents = layout.hierarchies.map((h) => join(h.mount, h.cgroup, parentName));

  // Everything else this run made is removed by cleanup(), also on SIGINT/SIGTERM.
  let current = null; // the running program's child process
  const cleanup = async () => {
    if (current && current.exitCode === null && current.signalCode === null) {
      try { process.kill(-current.pid, 'SIGKILL'); } catch { /* gone */ }
    }
    for (const p of parents) for (const pid of pidsIn(p)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    const notes = [];
    for (const p of parents) if (!(await rmCgroupTree(p))) notes.push(`could not remove cgroup ${p}`);
    try { rmSync(tmp, { recursive: true, force: true }); } catch (err) { notes.push(`could not remove ${tmp}: ${err.message}`); }
    return notes;
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      process.stderr.write(`\noci-validation: ${sig}, cleaning up…\n`);
      cleanup().finally(() => process.exit(130));
    });
  }

  /**
   * argv run in a fresh cgroup `<parent>/<name>` of every hierarchy, in a new cgroup namespace rooted
   * there and a private mount namespace with /sys/fs/cgroup mounted again (see the header).
   */
  const nsArgv = (name, argv) => {
    const procs = [];
    for (const p of parents) {
      const cg = join(p, name);
      mkCgroup(cg);
      procs.push(join(cg, 'cgroup.procs'));
    }
    const setup = ['set -e'];
    if (layout.v2) {
      setup.push(`mount -t cgroup2 -o ${shq(['nosuid', 'nodev', 'noexec', ...unified.opts].join(','))} cgroup2 ${CGROUP_ROOT}`);
      // No processes in the namespace's root: runtimes enable controllers in its subtree_control.
      setup.push(`mkdir ${CGROUP_ROOT}/init && echo $$ > ${CGROUP_ROOT}/init/cgroup.procs`);
    } else {
      setup.push(`mount -t tmpfs -o mode=755,nosuid,nodev,noexec tmpfs ${CGROUP_ROOT}`);
      for (const h of layout.hierarchies) {
        setup.push(`mkdir -p ${shq(h.mount)}`);
        const opts = ['nosuid', 'nodev', 'noexec', ...h.opts].join(',');
        setup.push(`mount -t ${h.fstype} -o ${shq(opts)} ${h.fstype} ${shq(h.mount)}`);
        if (h.fstype === 'cgroup2' && hide) setup.push(`mount --bind ${shq(empty)} ${shq(join(h.mount, 'cgroup.controllers'))}`);
      }
      for (const [n, target] of layout.symlinks) setup.push(`ln -s ${shq(target)} ${shq(join(CGROUP_ROOT, n))}`);
      setup.push(`mount -o remount,ro,nosuid,nodev,noexec ${CGROUP_ROOT}`);
    }
    setup.push(`cd ${shq(dir)}`, 'exec "$@"');
    const outer = `for f in ${procs.map(shq).join(' ')}; do echo $$ > "$f" || exit 97; done; ` +
      `exec unshare --cgroup --mount --propagation private sh -c ${shq(setup.join('\n'))} sh "$@"`;
    return ['sh', '-c', outer, 'sh', ...argv];
  };

  const env = { ...process.env, RUNTIME: wrapper, TMPDIR: tmpTmp };
  delete env.RUNTIME_ARGS;
  const runOne = (prog) => new Promise((resolveP) => {
    const name = nameOf(prog);
    const t0 = process.hrtime.bigint();
    const child = spawn(nsArgv(name, [join(dir, prog)])[0], nsArgv(name, [join(dir, prog)]).slice(1), {
      cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    current = child;
    const out = [];
    const err = [];
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => err.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    }, o.timeout * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      current = null;
      resolveP({
        name, code, signal, timedOut, seconds: Number(process.hrtime.bigint() - t0) / 1e9,
        stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });

  /** After a program: kill what it left in its cgroups, delete containers left in the state dir
   * (inside the same namespaces, so that the runtime finds their cgroups), remove its cgroups. */
  const afterOne = async (name) => {
    const notes = [];
    const list = sh([wrapper, 'list', '-q']);
    const ids = list.status === 0 ? list.stdout.split('\n').filter(Boolean) : [];
    for (const id of ids) {
      const argv = nsArgv(`${name}.cleanup`, [wrapper, 'delete', '--force', id]);
      const r = sh(argv, { cwd: dir });
      notes.push(`left container ${id}${r.status === 0 ? ' (deleted)' : ` (delete --force failed: ${r.stderr.split('\n').pop()})`}`);
    }
    if (ids.length === 0 && list.status !== 0) {
      // A runtime without `list`: remove its state dirs (containers' processes die with the cgroup).
      for (const e of readdirSync(state)) { rmSync(join(state, e), { recursive: true, force: true }); notes.push(`left state ${e}`); }
    }
    let killed = 0;
    for (const p of parents) for (const pid of pidsIn(p)) { try { process.kill(pid, 'SIGKILL'); killed++; } catch { /* gone */ } }
    if (killed) notes.push(`killed ${killed} leftover process(es)`);
    for (const p of parents) {
      for (const c of childDirs(p)) if (!(await rmCgroupTree(join(p, c)))) notes.push(`could not remove cgroup ${join(p, c)}`);
    }
    for (const e of readdirSync(tmpTmp)) rmSync(join(tmpTmp, e), { recursive: true, force: true });
    return notes;
  };

  process.stderr.write(`oci-validation: ${label} (${runtime}: ${version}), ${programs.length} programs from ${dir}` +
    `${hide ? ', cgroup2 controllers hidden' : ''}\n`);
  if (o.keepTap) mkdirSync(o.keepTap, { recursive: true });
  const results = [];
  const t0 = Date.now();
  try {
    for (const prog of programs) {
      const r = await runOne(prog);
      const tap = parseTap(r.stdout);
      const notes = await afterOne(r.name);
      const ran = tap.pass + tap.fail + tap.skip + tap.todo;
      const error = r.timedOut ? `timed out after ${o.timeout} s`
        : ran === 0 && r.code !== 0 ? `exit ${r.code ?? r.signal}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`
          : ran === 0 && tap.errors.length ? `no assertion, reported: ${tap.errors.join('; ')}` : null;
      const row = {
        program: r.name, ...(r.timedOut ? { timedOut: true } : {}), pass: tap.pass, fail: tap.fail, skip: tap.skip, todo: tap.todo, plan: tap.plan,
        exit: r.code ?? r.signal, seconds: Math.round(r.seconds * 10) / 10,
        ...(error ? { error } : {}),
        ...(tap.plan !== null && tap.plan !== ran ? { planMismatch: `${ran} of ${tap.plan}` } : {}),
        ...(tap.failures.length ? { failures: tap.failures } : {}),
        ...(tap.skips.length ? { skips: [...new Set(tap.skips)] } : {}),
        ...(r.stderr.trim() && (tap.fail || error) ? { stderr: r.stderr.trim().slice(-2000) } : {}),
        ...(notes.length ? { cleanup: notes } : {}),
      };
      results.push(row);
      if (o.keepTap) {
        writeFileSync(join(o.keepTap, `${r.name}.tap`), r.stdout);
        writeFileSync(join(o.keepTap, `${r.name}.err`), r.stderr);
      }
      if (o.verbose) process.stderr.write(`${r.stdout}${r.stderr}`);
      process.stderr.write(`  ${r.name.padEnd(36)} ${String(tap.pass).padStart(4)} ok ${String(tap.fail).padStart(3)} not ok ${String(tap.skip).padStart(3)} skip` +
        `  ${row.seconds}s${error ? `  ERROR ${error}` : ''}${notes.length ? `  (${notes.join('; ')})` : ''}\n`);
    }
  } finally {
    const notes = await cleanup();
    for (const n of notes) process.stderr.write(`oci-validation: ${n}\n`);
  }

  const total = results.reduce((a, r) => ({
    pass: a.pass + r.pass, fail: a.fail + r.fail, skip: a.skip + r.skip, todo: a.todo + r.todo, errors: a.errors + (r.error ? 1 : 0),
  }), { pass: 0, fail: 0, skip: 0, todo: 0, errors: 0 });
  const lines = ['', `${label}: ${version}`, `program                               ok  not ok  skip`];
  for (const r of results) {
    lines.push(`${r.program.padEnd(36)} ${String(r.pass).padStart(4)} ${String(r.fail).padStart(7)} ${String(r.skip).padStart(5)}${r.error ? `  ERROR: ${r.error}` : ''}`);
  }
  lines.push(`${'total'.padEnd(36)} ${String(total.pass).padStart(4)} ${String(total.fail).padStart(7)} ${String(total.skip).padStart(5)}` +
    `   (${total.pass + total.fail + total.skip + total.todo} assertions, ${total.errors} program(s) with errors, ${Math.round((Date.now() - t0) / 1000)} s)`);
  const failing = results.filter((r) => r.fail || r.error);
  if (failing.length) {
    lines.push('', 'failures:');
    for (const r of failing) {
      if (r.error) lines.push(`  ${r.program}: ERROR ${r.error}`);
      for (const f of r.failures ?? []) lines.push(`  ${r.program}: not ok - ${f}`);
    }
  }
  // The closing line in the form test harnesses read ('N passed, N failed').
  lines.push('', `oci-validation: ${total.pass} passed, ${total.fail} failed, ${total.skip} skipped`);
  process.stdout.write(`${lines.join('\n')}\n`);

  if (o.json) {
    const date = new Date().toISOString();
    const outDir = join(REPO, 'bench/results');
    mkdirSync(outDir, { recursive: true });
    const file = join(outDir, `oci-validation-${label.replace(/[^A-Za-z0-9_.-]/g, '_')}-${date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
    writeFileSync(file, `${JSON.stringify({
      date, label, runtime, version, kernel: release(), cgroup: layout.v2 ? 'v2' : hybrid ? 'v1 (hybrid)' : 'v1',
      cgroup2ControllersHidden: hide, dir, timeoutSec: o.timeout, total, programs: results,
    }, null, 2)}\n`);
    process.stdout.write(`JSON: ${file}\n`);
  }
  process.exitCode = results.some((r) => r.timedOut) ? 1 : 0;
}

main().catch((err) => {
  process.stderr.write(`oci-validation: ${err?.stack ?? err}\n`);
  process.exit(1);
});
