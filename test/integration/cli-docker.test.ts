// The CLI says what Docker's says, with Docker's exit codes (issue 12, "CLI"). Each check stands
// next to the Docker text it matches. Docker's texts are quoted from docker/cli at commit
// 28f756087e (the v28+ wording; the older one is quoted where it differs):
//
//   cli/required.go          argument counts: "%[1]s: '%[2]s' requires at least %[3]d %[4]s\n\nUsage:  %[5]s\n\n
//                            See '%[2]s --help' for more information" (RequiresMinArgs; ExactArgs,
//                            RequiresMaxArgs, RequiresRangeArgs and NoArgs say "Run '%[2]s --help' ..."),
//                            returned as plain errors: exit 1 (cmd/docker/docker.go getExitCode).
//   cmd/docker/docker.go     unknown command: "docker: unknown command: docker %s\n\nRun 'docker --help' for
//                            more information" (exit 1; before v28: "docker: 'rnu' is not a docker command.\n
//                            See 'docker --help'").
//   cli/cobra.go             FlagErrorFunc: "%s\n\nUsage:  %s\n\nRun '%s --help' for more information",
//                            StatusCode 125; the first line is pflag's (spf13/pflag errors.go): "unknown flag:
//                            --%s", "unknown shorthand flag: %q in -%s", "flag needs an argument: --%s",
//                            "invalid argument %q for %q flag: %v" (with strconv's "strconv.ParseInt: parsing
//                            \"abc\": invalid syntax").
//   cli/streams/in.go        CheckTty: "the input device is not a TTY" (through v29.3), a plain error: exit 1.
//   cli/command/inspect/inspector.go   a template that does not parse: StatusError{64, "template parsing error:
//                            ..."}; one that fails to execute: "template parsing error: template: :1:2: executing
//                            \"\" at <.Nope>: map has no entry for key \"Nope\"" (the raw-JSON fallback runs with
//                            missingkey=error), exit 1. cli/command/system/inspect.go: `unknown type: %q: must be
//                            one of "..."`, "error: no such object: %s".
//   cli/command/system/info.go, version.go   formatInfo/newVersionTemplate: parse errors 64; execution errors
//                            are Go's own "template: :1:2: executing ..." (exit 1).
//   "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock"
//                            (exit 1): pocker has no daemon, its store is the thing a user may not read.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { detectCgroups } from '../../lib/cgroup/detect.js';
import { runCli } from '../../lib/cli/main.js';
import { native } from '../../lib/native.js';
import type { CliContext } from '../../lib/cli/run.js';
import { builtinsLoadedBy, busyboxRootfs, holdsFileUnder, cgroupMounts, cleanupAll, cli, cliArgs, isRoot, pk, pockerBin, repoRoot, rootTracker, tempDir, tempRoot, testCgroupParent } from '../helpers.js';

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

/** `pocker <args>` in-process (nothing runs: parse errors and help), for the many argument-count checks. */
async function inProcess(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const ctx: CliContext = {
    env: {},
    execute: async () => 0,
    writeErr: (t) => {
      stderr += t;
    },
    exitCode: 0,
  };
  const code = await runCli(['node', 'pocker', ...args], ctx);
  return { code, stderr };
}

// Every describe below makes temp dirs (the completion files, the shared root of cli()): one cleanup at the
// file's end, whatever the describes' own hooks did.
afterAll(async () => {
  await cleanupAll();
});

describe('usage errors in Docker words', () => {
  it("an unknown command: Docker's \"docker: unknown command: docker rnu\\n\\nRun 'docker --help' for more information\", exit 1", async () => {
    const r = await cli(['rnu']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("pocker: unknown command: pocker rnu\n\nRun 'pocker --help' for more information\n");
    // Under a management command (cli/required.go NoArgs with subcommands): the usage line too.
    const sub = await cli(['image', 'nosuch']);
    expect(sub.code).toBe(1);
    expect(sub.stderr).toBe("pocker: unknown command: pocker image nosuch\n\nUsage:  pocker image COMMAND\n\nRun 'pocker image --help' for more information\n");
  });

  it("argument counts: Docker's \"docker: 'docker rm' requires at least 1 argument\\n\\nUsage:  ...\\n\\nSee 'docker rm --help' for more information\", exit 1", async () => {
    const rm = await cli(['rm']);
    expect(rm.code).toBe(1);
    expect(rm.stderr).toBe("pocker: 'pocker rm' requires at least 1 argument\n\nUsage:  pocker rm [OPTIONS] CONTAINER [CONTAINER...]\n\nSee 'pocker rm --help' for more information\n");
    // docker/cli's Args for each verb (cli/command/container/*.go, image/*.go) and its wording.
    const cases: Array<[string[], string]> = [
      [['stop'], "'pocker stop' requires at least 1 argument"], // RequiresMinArgs(1)
      [['kill'], "'pocker kill' requires at least 1 argument"],
      [['wait'], "'pocker wait' requires at least 1 argument"],
      [['start'], "'pocker start' requires at least 1 argument"],
      [['restart'], "'pocker restart' requires at least 1 argument"],
      [['top'], "'pocker top' requires at least 1 argument"],
      [['rmi'], "'pocker rmi' requires at least 1 argument"],
      [['save'], "'pocker save' requires at least 1 argument"],
      [['inspect'], "'pocker inspect' requires at least 1 argument"],
      [['run'], "'pocker run' requires at least 1 argument"],
      [['create'], "'pocker create' requires at least 1 argument"],
      [['exec', 'c'], "'pocker exec' requires at least 2 arguments"], // RequiresMinArgs(2)
      [['attach'], "'pocker attach' requires 1 argument"], // ExactArgs(1)
      [['logs'], "'pocker logs' requires 1 argument"],
      [['pull'], "'pocker pull' requires 1 argument"],
      [['export'], "'pocker export' requires 1 argument"],
      [['rename', 'a'], "'pocker rename' requires 2 arguments"], // ExactArgs(2)
      [['tag', 'a', 'b', 'c'], "'pocker tag' requires 2 arguments"],
      [['cp', 'a'], "'pocker cp' requires 2 arguments"],
      [['commit'], "'pocker commit' requires at least 1 and at most 2 arguments"], // RequiresRangeArgs(1, 2)
      [['images', 'a', 'b'], "'pocker images' requires at most 1 argument"], // RequiresMaxArgs(1)
      [['ps', 'x'], "'pocker ps' accepts no arguments"], // NoArgs
      [['image', 'inspect'], "'pocker image inspect' requires at least 1 argument"],
    ];
    for (const [args, first] of cases) {
      const r = await inProcess(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(new RegExp(`^pocker: ${first.replace(/[[\]()]/g, '\\$&')}\\n\\nUsage:  pocker \\S.*\\n\\n(See|Run) 'pocker [a-z ]+ --help' for more information\\n$`));
    }
  });

  it('every verb with required arguments answers with Docker\'s argument-count error (exit 1), none with commander\'s', async () => {
    const { createProgram } = await import('../../lib/cli/main.js');
    const ctx: CliContext = { env: {}, execute: async () => 0, writeErr: () => {}, exitCode: 0 };
    const verbs: string[][] = [];
    const walk = (cmd: import('commander').Command, path: string[]) => {
      for (const c of cmd.commands) {
        const p = [...path, c.name()];
        if (c.commands.length > 0) walk(c, p);
        else if (c.registeredArguments.some((a) => a.required) || p.join(' ') === 'run' || p.join(' ') === 'create') verbs.push(p);
      }
    };
    walk(createProgram(ctx), []);
    expect(verbs.length).toBeGreaterThan(20);
    for (const verb of verbs) {
      const r = await inProcess(verb);
      expect(r.code, verb.join(' ')).toBe(1);
      const path = `pocker ${verb.join(' ')}`;
      expect(r.stderr, verb.join(' ')).toMatch(new RegExp(`^pocker: '${path}' requires .*argument`));
      expect(r.stderr).toContain(`\n\nUsage:  ${path} `);
      expect(r.stderr).toMatch(new RegExp(`\\n\\n(See|Run) '${path} --help' for more information\\n$`));
      expect(r.stderr).not.toMatch(/error: |missing required argument/);
    }
  });

  it("flag errors: pflag's words, the usage line and \"Run 'docker run --help' for more information\" (FlagErrorFunc), exit 125", async () => {
    const usage = "\n\nUsage:  pocker run [OPTIONS] (IMAGE | --rootfs DIR) [COMMAND] [ARG...]\n\nRun 'pocker run --help' for more information\n";
    // Docker: invalid argument "abc" for "--pids-limit" flag: strconv.ParseInt: parsing "abc": invalid syntax
    const pids = await cli(['run', '--pids-limit', 'abc', 'host']);
    expect(pids.code).toBe(125);
    expect(pids.stderr).toBe(`invalid argument "abc" for "--pids-limit" flag: strconv.ParseInt: parsing "abc": invalid syntax${usage}`);
    expect(pids.stderr).not.toContain('Not an integer');
    // pflag names a flag with a shorthand "-c, --cpu-shares".
    const shares = await inProcess(['run', '-c', 'lots', 'host']);
    expect([shares.code, shares.stderr]).toEqual([125, `invalid argument "lots" for "-c, --cpu-shares" flag: strconv.ParseInt: parsing "lots": invalid syntax${usage}`]);
    // Docker: unknown flag: --bogus / unknown shorthand flag: 'x' in -x / flag needs an argument: --name / 'e' in -e
    expect(await inProcess(['run', '--bogus', 'host'])).toEqual({ code: 125, stderr: `unknown flag: --bogus${usage}` });
    expect(await inProcess(['run', '-x', 'host'])).toEqual({ code: 125, stderr: `unknown shorthand flag: 'x' in -x${usage}` });
    expect(await inProcess(['run', '--name'])).toEqual({ code: 125, stderr: `flag needs an argument: --name${usage}` });
    expect(await inProcess(['run', '-e'])).toEqual({ code: 125, stderr: `flag needs an argument: 'e' in -e${usage}` });
    // Other commands: their own usage line and help pointer.
    expect(await inProcess(['ps', '--bogus'])).toEqual({ code: 125, stderr: "unknown flag: --bogus\n\nUsage:  pocker ps [OPTIONS]\n\nRun 'pocker ps --help' for more information\n" });
    // stop's -t is an Int flag, as Docker's.
    expect(await inProcess(['stop', '-t', 'soon', 'c'])).toEqual({
      code: 125,
      stderr: `invalid argument "soon" for "-t, --time" flag: strconv.ParseInt: parsing "soon": invalid syntax\n\nUsage:  pocker stop [OPTIONS] CONTAINER [CONTAINER...]\n\nRun 'pocker stop --help' for more information\n`,
    });
    expect(await inProcess(['--bogus'])).toEqual({ code: 125, stderr: "unknown flag: --bogus\n\nUsage:  pocker [OPTIONS] COMMAND\n\nRun 'pocker --help' for more information\n" });
  });

  it('-it without a terminal: "the input device is not a TTY", exit 1 (Docker\'s CheckTty), nothing run', async () => {
    const root = tempRoot();
    const r = await cli(['run', '-it', '--rm', 'host', 'true'], { root });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('pocker: the input device is not a TTY\n');
    expect(readdirSync(root).includes('containers') ? readdirSync(join(root, 'containers')) : []).toEqual([]);
  });

  it('help [COMMAND]: the command\'s help on stdout, exit 0; an unknown topic exits 1 ("unknown help topic: ...")', async () => {
    const viaHelp = await cli(['help', 'rm']);
    const viaFlag = await cli(['rm', '--help']);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toBe(viaFlag.stdout);
    expect(viaHelp.stdout).toMatch(/^Usage: pocker rm \[OPTIONS\] CONTAINER \[CONTAINER\.\.\.\]/);
    expect((await cli(['help', 'image', 'ls'])).stdout).toMatch(/^Usage: pocker image ls/);
    expect((await cli(['help', 'container', 'ls'])).stdout).toMatch(/^Usage: pocker ps/);
    expect((await cli(['help'])).stdout).toMatch(/^Usage: pocker \[OPTIONS\] COMMAND/);
    const unknown = await cli(['help', 'nosuch']);
    expect([unknown.code, unknown.stderr]).toEqual([1, 'pocker: unknown help topic: nosuch\n']);
  });
});

describe.skipIf(!isRoot)('commands against a store', () => {
  const roots = rootTracker();
  const root = roots.newRoot();
  let id = '';

  beforeAll(async () => {
    const tar = join(tempDir('cli-docker'), 'rootfs.tar');
    execFileSync('tar', ['-cf', tar, '-C', busyboxRootfs(), '.']);
    expect((await pk(root, 'import', tar, 'cli-docker:1')).code).toBe(0);
    const c = await pk(root, 'create', '--name', 'made', 'cli-docker:1', 'true');
    expect(c.code, c.stderr).toBe(0);
    id = c.stdout.trim();
  });

  afterAll(async () => {
    await roots.removeAll();
    await cleanupAll();
  });

  it('the (step: ...) suffix only in debug mode (-D / --debug, a global flag); the library keeps step', async () => {
    const plain = await pk(root, 'run', '--rm', '-m', '1', 'cli-docker:1', 'true');
    expect(plain.code).toBe(125);
    // run.go withHelp: "docker: <error>\n\nRun 'docker run --help' for more information" for an invalid flag value.
    expect(plain.stderr).toBe('pocker: invalid memory limit "1": Minimum memory limit allowed is 6MB\n\nRun \'pocker run --help\' for more information\n');
    for (const flag of ['-D', '--debug']) {
      const debug = await cli([flag, '--root', root, 'run', '--rm', '-m', '1', 'cli-docker:1', 'true']);
      expect(debug.code).toBe(125);
      expect(debug.stderr).toMatch(/^pocker: invalid memory limit "1": .* \(step: validate\)\n\nRun 'pocker run --help' for more information\n$/);
    }
  });

  it('exec on a missing container exits 1 like rm and stop (Docker: "No such container: nosuch", exit 1)', async () => {
    for (const args of [['exec', 'nosuch', 'true'], ['rm', 'nosuch'], ['stop', 'nosuch']]) {
      const r = await pk(root, ...args);
      expect([r.code, r.stderr], args.join(' ')).toEqual([1, 'pocker: No such container: nosuch\n']);
    }
  });

  it('--cpus 0 is no limit (Docker: NanoCPUs 0), not an error; below 0.01 still is', async () => {
    const r = await pk(root, 'run', '-d', '--cpus', '0', 'cli-docker:1', 'sleep', '60');
    expect(r.code, r.stderr).toBe(0);
    const cid = r.stdout.trim();
    try {
      expect((await pk(root, 'inspect', '-f', '{{.HostConfig.NanoCpus}}', cid)).stdout).toBe('0\n');
      const pid = Number((await pk(root, 'inspect', '-f', '{{.State.Pid}}', cid)).stdout.trim());
      const info = detectCgroups();
      const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
      if (info.version === 2) {
        const path = lines.find((l) => l.startsWith('0::'))!.slice(3);
        expect(readFileSync(`${info.unifiedMount}${path}/cpu.max`, 'utf8')).toMatch(/^max /);
      } else {
        const line = lines.find((l) => l.split(':')[1]!.split(',').includes('cpu'))!;
        const path = line.split(':').slice(2).join(':');
        expect(readFileSync(`${info.v1Mounts!.cpu}${path}/cpu.cfs_quota_us`, 'utf8').trim()).toBe('-1');
      }
    } finally {
      expect((await pk(root, 'rm', '-f', cid)).code).toBe(0);
    }
    const low = await pk(root, 'run', '--rm', '--cpus', '0.001', 'cli-docker:1', 'true');
    expect(low.code).toBe(125);
    expect(low.stderr).toMatch(/Range of CPUs is from 0\.01/);
  });

  it('inspect -f/--format (a Go template), --type container|image, and Docker\'s errors for each', async () => {
    // docker inspect --format '{{.Name}} {{.State.Status}}' made  ->  /made created
    const f = await pk(root, 'inspect', '--format', '{{.Name}} {{.State.Status}} {{json .Config.Cmd}}', 'made');
    expect([f.code, f.stdout]).toEqual([0, '/made created ["true"]\n']);
    expect((await pk(root, 'inspect', '-f', '{{.Id}}', 'made', id.slice(0, 12))).stdout).toBe(`${id}\n${id}\n`);
    // json: one object a line.
    expect(JSON.parse((await pk(root, 'inspect', '-f', 'json', 'made')).stdout)).toMatchObject({ Id: id });
    // No type: a container first, then an image (cli/command/system/inspect.go inspectAll).
    const both = JSON.parse((await pk(root, 'inspect', 'made', 'cli-docker:1')).stdout) as Array<{ Id: string; RepoTags?: string[] }>;
    expect(both.map((o) => o.RepoTags ?? o.Id)).toEqual([id, ['cli-docker:1']]);
    expect((await pk(root, 'inspect', '--type', 'image', '-f', '{{index .RepoTags 0}}', 'cli-docker:1')).stdout).toBe('cli-docker:1\n');
    expect((await pk(root, 'inspect', '--type', 'image', '-f', '{{.Os}}', 'cli-docker:1')).stdout).toBe('linux\n');
    // --type container does not find an image, --type image no container.
    const notContainer = await pk(root, 'inspect', '--type', 'container', 'cli-docker:1');
    expect([notContainer.code, notContainer.stdout, notContainer.stderr]).toEqual([1, '[]\n', 'pocker: No such container: cli-docker:1\n']);
    const notImage = await pk(root, 'inspect', '--type', 'image', 'made');
    expect(notImage.code).toBe(1);
    expect(notImage.stderr).toMatch(/No such image: made/);
    // Docker: "error: no such object: nosuch" (exit 1), after the objects found.
    const none = await pk(root, 'inspect', 'made', 'nosuch');
    expect(none.code).toBe(1);
    expect((JSON.parse(none.stdout) as unknown[]).length).toBe(1);
    expect(none.stderr).toBe('error: no such object: nosuch\n');
    // Docker: `unknown type: "secret": must be one of "config", "container", ...` (pocker's three types).
    const bad = await pk(root, 'inspect', '--type', 'secret', 'made');
    expect([bad.code, bad.stderr]).toEqual([1, 'pocker: unknown type: "secret": must be one of "container", "image", "volume"\n']);
    expect((await pk(root, 'inspect', '--type', '', 'made')).stderr).toBe('pocker: type is empty: must be one of "container", "image", "volume"\n');
  });

  it('template errors: parsing (exit 64 in inspect/info/version) and execution ("executing", Go\'s text) are told apart', async () => {
    // inspector.go: StatusError{64, "template parsing error: template: :1: unclosed action"}
    const parse = await pk(root, 'inspect', '-f', '{{.Name', 'made');
    expect([parse.code, parse.stdout, parse.stderr]).toEqual([64, '', 'pocker: template parsing error: template: :1: unclosed action\n']);
    // Execution on the raw JSON with missingkey=error: Docker's
    // "template parsing error: template: :1:2: executing \"\" at <.Nope>: map has no entry for key \"Nope\"", exit 1.
    const exec = await pk(root, 'inspect', '-f', '{{.Nope}}', 'made');
    expect(exec.code).toBe(1);
    expect(exec.stderr).toBe('pocker: template parsing error: template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"\n');
    const nested = await pk(root, 'inspect', '-f', 'x {{.State.Nope}}', 'made');
    expect(nested.stderr).toBe('pocker: template parsing error: template: :1:4: executing "" at <.State.Nope>: map has no entry for key "Nope"\n');
    // info/version (formatInfo, prettyPrintVersion): Go's execution error as it is, exit 1; parsing 64.
    const info = await pk(root, 'info', '-f', '{{.Nope}}');
    expect([info.code, info.stderr]).toEqual([1, 'pocker: template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope\n']);
    const v = await cli(['version', '--format', '{{json .Client'], {});
    expect([v.code, v.stderr]).toEqual([64, 'pocker: template parsing error: template: :1: unclosed action\n']);
    // ps (formatter.go contextFormat): "template parsing error:" + Go's execution text.
    const ps = await pk(root, 'ps', '--format', '{{.Nope}}');
    expect(ps.code).toBe(1); // list.go returns ContainerWrite's error: exit 1
    expect(ps.stderr).toBe('pocker: template parsing error: template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope\n');
  });

  it("info: docker info's sections and fields, and --format over Docker's field names", async () => {
    const r = await pk(root, 'info');
    expect(r.code, r.stderr).toBe(0);
    // prettyPrintServerInfo: " Containers: N", "  Running: N", "  Paused: N", "  Stopped: N", " Images: N", ...
    expect(r.stdout).toMatch(/^Client:\n Version: {4}\S+\n Context: {4}default\n Debug Mode: false\n\nServer:\n/);
    expect(r.stdout).toContain(' Containers: 1\n  Running: 0\n  Paused: 0\n  Stopped: 1\n Images: 1\n');
    for (const field of ['Server Version: ', 'Storage Driver: overlay2', 'Logging Driver: json-file', 'Cgroup Driver: cgroupfs', 'Cgroup Version: ', 'Kernel Version: ', 'Operating System: ', 'OSType: linux', 'Architecture: ', 'CPUs: ', 'Total Memory: ', `Pocker Root Dir: ${root}`]) {
      expect(r.stdout).toContain(`\n ${field}`);
    }
    const cg = String(detectCgroups().version);
    const f = await pk(root, 'info', '--format', '{{.Containers}} {{.ContainersRunning}} {{.ContainersStopped}} {{.Images}} {{.CgroupVersion}} {{.DockerRootDir}} {{.OSType}}');
    expect(f.stdout).toBe(`1 0 1 1 ${cg} ${root} linux\n`);
    const json = JSON.parse((await pk(root, 'info', '-f', 'json')).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ Containers: 1, Images: 1, Driver: 'overlay2', OSType: 'linux', ServerVersion: version, DockerRootDir: root });
    expect(json.NCPU).toBeGreaterThan(0);
    expect(json.MemTotal).toBeGreaterThan(0);
    // `system info` is the same command (Docker's management-command name).
    expect((await pk(root, 'system', 'info', '-f', '{{.Images}}')).stdout).toBe('1\n');
  });

  it("version: docker version's Client/Server sections (tabwriter of width 20), --format", async () => {
    const r = await cli(['version']);
    expect(r.code).toBe(0);
    const goArch = process.arch === 'x64' ? 'amd64' : process.arch;
    // defaultVersionTemplate: "Client:{{...Platform.Name}}\n Version:\t{{.Version}}\n ... OS/Arch:\t{{.Os}}/{{.Arch}}\n Context:\t..."
    expect(r.stdout).toMatch(new RegExp(`^Client: pocker\\n Version: {11}${version.replace(/\./g, '\\.')}\\n Node version: {6}v\\S+\\n OS/Arch: {11}linux/${goArch}\\n Context: {11}default\\n\\nServer: pocker\\n Engine:\\n  Version: {10}`));
    expect(r.stdout).toContain('\n pocker-init:\n  Version: ');
    expect((await cli(['version', '-f', '{{.Client.Version}} {{.Server.Version}}'])).stdout).toBe(`${version} ${version}\n`);
    const json = JSON.parse((await cli(['version', '--format', 'json'])).stdout) as { Client: { Version: string }; Server: { Components: Array<{ Name: string }> } };
    expect(json.Client.Version).toBe(version);
    expect(json.Server.Components.map((c) => c.Name)).toEqual(['Engine', 'pocker-init']);
  });

  it('a store the user cannot read: "permission denied while trying to read the pocker store at ROOT: run as root", exit 1 (not an empty table)', async () => {
    // A real unprivileged user (nobody) against a root-owned store made 0700, as /var/lib/pocker is.
    const locked = tempRoot();
    mkdirSync(join(locked, 'containers'), { recursive: true });
    chmodSync(locked, 0o700);
    const asNobody = (...args: string[]) =>
      spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, pockerBin, '--root', locked, ...args], { encoding: 'utf8', cwd: '/' });
    const message = `pocker: permission denied while trying to read the pocker store at ${locked}: run as root\n`;
    for (const args of [['ps'], ['ps', '-a'], ['images'], ['inspect', 'x'], ['info'], ['logs', 'x'], ['container', 'ls']]) {
      const r = asNobody(...args);
      expect([r.status, r.stdout, r.stderr], args.join(' ')).toEqual([1, '', message]);
    }
    // A readable root whose containers/ is not: the same.
    const half = tempRoot();
    mkdirSync(join(half, 'containers'), { recursive: true, mode: 0o700 });
    chmodSync(half, 0o755);
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, pockerBin, '--root', half, 'ps'], { encoding: 'utf8', cwd: '/' });
    expect([r.status, r.stderr]).toEqual([1, `pocker: permission denied while trying to read the pocker store at ${half}: run as root\n`]);
    // The user's own store (or none yet): an empty table, exit 0. Root reads the locked one.
    const own = tempDir('nobody-store');
    chownSync(own, 65534, 65534);
    const mine = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, pockerBin, '--root', join(own, 'store'), 'ps'], { encoding: 'utf8', cwd: '/' });
    expect([mine.status, mine.stderr]).toEqual([0, '']);
    expect(mine.stdout).toMatch(/^CONTAINER ID/);
    expect((await pk(locked, 'ps')).code).toBe(0);
    // Commands that read no store still work: version, help, completion.
    expect(asNobody('version', '-f', '{{.Client.Version}}').stdout).toBe(`${version}\n`);
  });
});

describe('completion: generated from the command definitions', () => {
  const script = (shell: string) => {
    const r = spawnSync(process.execPath, [pockerBin, 'completion', shell], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
  };

  /** What bash completes for the words (the last one being completed). */
  const complete = (file: string, words: string[]): string[] => {
    const cmd = `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _pocker; printf '%s\\n' "\${COMPREPLY[@]}"`;
    return spawnSync('bash', ['-c', cmd], { encoding: 'utf8', env: { ...process.env, PATH: `${join(repoRoot, 'bin')}:${process.env.PATH}` } }).stdout.split('\n').filter(Boolean).sort();
  };

  it('bash: commands, subcommands, each command\'s flags; flag values are not taken for commands', () => {
    const file = join(tempDir('completion'), 'pocker.bash');
    writeFileSync(file, script('bash'));
    expect(spawnSync('bash', ['-n', file]).status).toBe(0);
    expect(complete(file, ['pocker', 'ru'])).toEqual(['run']);
    expect(complete(file, ['pocker', 'image', 'l'])).toEqual(['list', 'load', 'ls']);
    expect(complete(file, ['pocker', 'run', '--pids'])).toEqual(['--pids-limit']);
    expect(complete(file, ['pocker', 'inspect', '--t'])).toEqual(['--type']);
    expect(complete(file, ['pocker', '--root', '/x', 'vers'])).toEqual(['version']);
    expect(complete(file, ['pocker', 'system', ''])).toEqual(['df', 'info', 'prune']);
    expect(complete(file, ['pocker', 'completion', ''])).toEqual(['bash', 'fish', 'zsh']);
    // Arguments naming containers complete from `pocker ps -a` (this user's store: none here).
    expect(complete(file, ['pocker', 'rm', '--root', '/nonexistent', ''])).toEqual([]);
  });

  it('every command and flag of the program is in the scripts (nothing hand-kept)', async () => {
    const { createProgram } = await import('../../lib/cli/main.js');
    const { completionSpec, bashCompletion, zshCompletion, fishCompletion } = await import('../../lib/cli/completion.js');
    const program = createProgram({ env: {}, execute: async () => 0, writeErr: () => {}, exitCode: 0 });
    // A command added later (as another helper's `network`) is completed with no other change.
    program.command('frobnicate').description('A new command').option('--wobble <n>', 'A new flag');
    const spec = completionSpec(program);
    const bash = bashCompletion(spec);
    const zsh = zshCompletion(spec);
    const fish = fishCompletion(spec);
    for (const c of program.commands) {
      expect(bash).toContain(`'${c.name()}') path=`);
      expect(zsh).toContain(`'${c.name()}:`);
      expect(fish).toContain(`-a '${c.name()}'`);
    }
    expect(bash).toContain('--wobble');
    expect(fish).toContain("-n '__fish_seen_subcommand_from frobnicate' -l wobble -r -F -d 'A new flag'");
    expect(zsh).toContain("'--wobble:A new flag'");
    for (const shell of ['zsh', 'fish']) {
      const which = spawnSync('sh', ['-c', `command -v ${shell}`]);
      if (which.status !== 0) continue; // not installed here: the bash check above runs the same model
      const file = join(tempDir('completion'), `pocker.${shell}`);
      writeFileSync(file, script(shell));
      expect(spawnSync(shell, ['-n', file]).status, shell).toBe(0);
    }
    // fish answers `complete -C` itself: the script completes for real there.
    if (spawnSync('sh', ['-c', 'command -v fish']).status === 0) {
      const file = join(tempDir('completion'), 'pocker.fish');
      writeFileSync(file, script('fish'));
      const words = (line: string) =>
        spawnSync('fish', ['-c', `source ${file}; complete -C '${line}'`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0]).sort();
      expect(words('pocker image l')).toEqual(['list', 'load', 'ls']);
      expect(words('pocker run --pids')).toEqual(['--pids-limit']);
      expect(words('pocker completion ')).toEqual(['bash', 'fish', 'zsh']);
    }
  });

  it('an unknown shell is refused (cobra: invalid argument "x" for "docker completion"), exit 1', async () => {
    const r = await cli(['completion', 'tcsh']);
    expect([r.code, r.stderr]).toEqual([1, 'pocker: invalid argument "tcsh" for "pocker completion"\n']);
  });
});

describe('stdout and stderr without their stream objects (lib/cli/stdio.ts)', () => {
  it('ps prints its table to a pipe, and ends quietly with 0 when the pipe has no reader (EPIPE)', async () => {
    const root = tempRoot();
    const r = await cli(['--root', root, 'ps']);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n', '']);
    // The reader end is closed before the child can have started Node: its first write fails with EPIPE.
    const child = spawn(process.execPath, [pockerBin, '--root', root, 'ps'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect([code, stderr]).toEqual([0, '']);
  });

  it('a usage error goes to stderr before anything else is written', async () => {
    const r = await cli(['ps', '--nosuch']);
    expect(r.code).toBe(125);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("unknown flag: --nosuch\n\nUsage:  pocker ps [OPTIONS]\n\nRun 'pocker ps --help' for more information\n");
  });
});

describe("what a short command loads (issue 12: nothing a command does not use)", () => {
  // Node's built-in modules the CLI gets as stand-ins (bin/pocker.cjs, LAZY_BUILTINS), loaded at
  // their first use: a listing of an empty or container-only store uses none of them. Each one
  // loaded by a module's top level (a class extending node:stream's Transform, a namespace import
  // of node:zlib, fs/promises for one mkdir) cost `images` 1-2 ms of CPU here. node:module
  // loads Node's ES module loader (~0.6 ms): the bundle's require and the addon's load need neither.
  const HEAVY = ['zlib', 'stream', 'fs/promises', 'crypto', 'readline', 'net', 'tty', 'module', 'internal/modules/esm/loader'];

  /** The built-ins `pocker <args>` loads (a run or create gets the test's cgroup parent). */
  function builtinsOf(args: string[]): string[] {
    // cliArgs: a run or create gets the test's cgroup parent (without it, the default `pocker` parent was made and left).
    const r = builtinsLoadedBy(cliArgs(args), { POCKER_DEFAULT_NETWORK: 'none' });
    expect(r.status, r.stderr).toBe(0);
    return r.loaded;
  }

  it.runIf(isRoot)('images, ps -a, inspect, run --rm, create, rm and a command\'s --help load no stream, zlib, fs/promises, crypto or module module', async () => {
    const root = tempRoot();
    await pk(root, 'create', '--name', 'listed', 'host', 'true');
    // run's container id, temp names and seccomp cache key come from the addon (lib/random.ts).
    // A command's --help into a pipe: commander asks for a terminal's width and colours, which
    // made process.stdout (node:stream, node:net) before it printed a line.
    for (const args of [['images'], ['ps', '-a'], ['inspect', 'listed'], ['images', '-q'], ['run', '--rm', 'host', 'true'], ['create', '--name', 'gone', 'host', 'true'], ['rm', 'gone'], ['ps', '--help'], ['run', '--help']]) {
      const loaded = builtinsOf(['--root', root, ...args]);
      expect(loaded.filter((m) => HEAVY.includes(m)), args.join(' ')).toEqual([]);
      // The name claim's critical section is synchronous (withFileLockThenSync): a run or create
      // enters no AsyncLocalStorage, whose promise hooks cost every later promise (~1 ms of a run).
      if (args[0] === 'run' || args[0] === 'create') expect(loaded, args.join(' ')).not.toContain('internal/promise_hooks');
      if (args[0] === 'create') {
        // Its container went under this test run's cgroup parent, not the default `pocker` (a bug of this test once).
        const id = (await pk(root, 'inspect', '-f', '{{.Id}}', 'gone')).stdout.trim();
        const spec = JSON.parse(readFileSync(join(root, 'containers', id, 'config.json'), 'utf8')) as { linux: { cgroupsPath: string } };
        expect(spec.linux.cgroupsPath.split('/').filter(Boolean)[0]).toBe(testCgroupParent());
      }
    }
  });

  it.runIf(isRoot)('run --rm and create load the addon once: the one bin/pocker.cjs read the bundle with', () => {
    const root = tempRoot();
    const hook = 'data:text/javascript,' + encodeURIComponent('const o=process.dlopen;process.dlopen=function(m,f){process.stderr.write("DLOPEN "+f+"\\n");return o.apply(this,arguments)}');
    for (const args of [['run', '--rm', 'host', 'true'], ['create', 'host', 'true']]) {
      const r = spawnSync(process.execPath, ['--import', hook, pockerBin, ...cliArgs(['--root', root, ...args])], { encoding: 'utf8', env: { ...process.env, POCKER_DEFAULT_NETWORK: 'none' } });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr.split('\n').filter((l) => l.startsWith('DLOPEN')), args[0]).toHaveLength(1);
    }
  });

  it.runIf(isRoot)("images (the image store's listing) and inspect of a missing image use the addon only to read the bundle, and make nothing", () => {
    const dir = tempDir();
    const probe = join(dir, 'probe.cjs');
    // bin/pocker.cjs reads the bundle with the addon (readFileLatin1, readFileBytes); any other
    // call (a lock, a random id) would mean the listing did store work it does not need.
    writeFileSync(probe, [
      'const used = new Set(); const o = process.dlopen;',
      'process.dlopen = function (m, f) { const r = o.apply(this, arguments); for (const k of Object.keys(m.exports)) { const g = m.exports[k]; if (typeof g === "function") m.exports[k] = function () { used.add(k); return g.apply(this, arguments); }; } return r; };',
      "process.on('exit', () => require('node:fs').writeSync(2, 'addon calls: ' + [...used].sort().join(',')));",
    ].join('\n'));
    const root = join(dir, 'store'); // not made yet
    for (const args of [['images'], ['images', '-q'], ['image', 'inspect', 'nosuch:1']]) {
      const r = spawnSync(process.execPath, ['-r', probe, pockerBin, '--root', root, ...args], { encoding: 'utf8' });
      expect(r.stderr, args.join(' ')).toMatch(/addon calls: readFileBytes,readFileLatin1$/);
      expect(existsSync(root), args.join(' ')).toBe(false);
    }
  });

  it.runIf(isRoot)("the warm-ups of create/start, stop/kill/wait/rm, inspect, exec and logs use real containers, and leave no cgroup, file or process behind", () => {
    const tmp = tempDir(); // their TMPDIR: where each makes its temp root
    // A monitor left behind would hold files under tmp (its container's log, deleted with the root).
    const monitorsUnder = (dir: string): number[] => native().pockerInitPids().filter((pid) => holdsFileUnder(pid, dir));
    for (const bundle of ['create', 'containers', 'inspect', 'exec', 'logs']) {
      const out = join(tempDir(), `${bundle}.v8cache`);
      const child = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'cli-cache.cjs'), bundle, '--out', out], { encoding: 'utf8', env: { ...process.env, TMPDIR: tmp } });
      expect(child.status, `${bundle}: ${child.stderr}`).toBe(0);
      expect(child.stderr, bundle).toBe(''); // no "its cache holds less": every step passed
      expect(statSync(out).size).toBeGreaterThan(0);
      for (const m of cgroupMounts()) expect(existsSync(join(m, `pocker-cache-${child.pid}`)), `${bundle}: ${m}`).toBe(false);
      expect(readdirSync(tmp), bundle).toEqual([]);
      expect(monitorsUnder(tmp), bundle).toEqual([]);
    }
  });

  it.runIf(isRoot)("the build's warm-up of run's code cache runs a real container, and leaves no cgroup, file or process behind", () => {
    const out = join(tempDir(), 'run.v8cache');
    const tmp = tempDir(); // its TMPDIR: where it makes its temp root
    const child = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'cli-cache.cjs'), 'run', '--out', out], { encoding: 'utf8', env: { ...process.env, TMPDIR: tmp } });
    expect(child.status, child.stderr).toBe(0);
    expect(child.stderr).toBe(''); // no "its cache holds less": the real run passed
    expect(statSync(out).size).toBeGreaterThan(0);
    // Its cgroup parent, pocker-cache-<its pid>, is gone from every hierarchy (it ran, so it was made).
    for (const m of cgroupMounts()) expect(existsSync(join(m, `pocker-cache-${child.pid}`)), m).toBe(false);
    expect(readdirSync(tmp)).toEqual([]);
    // POCKER_BUILD_NO_CONTAINER=1: only the command line is resolved, and the cache holds less.
    const lean = join(tempDir(), 'run-lean.v8cache');
    const noRun = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'cli-cache.cjs'), 'run', '--out', lean], { encoding: 'utf8', env: { ...process.env, TMPDIR: tmp, POCKER_BUILD_NO_CONTAINER: '1' } });
    expect(noRun.status, noRun.stderr).toBe(0);
    expect(statSync(lean).size).toBeLessThan(statSync(out).size);
    expect(readdirSync(tmp)).toEqual([]);
  });
});
