// `pocker info` and `pocker version` (also `system info`), with Docker's fields and layout
// (docker/cli cli/command/system/info.go prettyPrintInfo/prettyPrintServerInfo, version.go's
// defaultVersionTemplate), and `-f/--format` (`json` or a Go template over the same fields, Docker
// Engine API names: Containers, ContainersRunning, Images, Driver, CgroupVersion, DockerRootDir...).
// Template errors as Docker's: one that does not parse exits 64 ("template parsing error: ..."),
// one that fails while executing exits 1 with Go's own "template: :1:2: executing ..." text.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Command } from 'commander';

import { bytesSize, checkTemplate, formatTable, goJson, renderTemplate } from './format.js';
import { CliError, guard, TemplateError } from './failure.js';
import { rootFlag, type CliContext } from './run.js';
import { defaultStateRoot } from '../rootless/paths.js';
import { writeStdout } from './stdio.js';

/** `docker info`'s fields pocker has (system.Info's names), plus the client section. */
export interface InfoData {
  ID: string;
  Containers: number;
  ContainersRunning: number;
  ContainersPaused: number;
  ContainersStopped: number;
  Images: number;
  Driver: string;
  DriverStatus: Array<[string, string]>;
  LoggingDriver: string;
  CgroupDriver: string;
  CgroupVersion: string;
  KernelVersion: string;
  OperatingSystem: string;
  OSVersion: string;
  OSType: string;
  Architecture: string;
  NCPU: number;
  MemTotal: number;
  DockerRootDir: string;
  Name: string;
  ServerVersion: string;
  Runtimes: Record<string, { path: string }>;
  DefaultRuntime: string;
  SecurityOptions: string[];
  Debug: boolean;
  ExperimentalBuild: boolean;
  LiveRestoreEnabled: boolean;
  Warnings: string[];
  ClientInfo: { Version: string; Context: string; Debug: boolean };
}

/** Go's runtime.GOARCH for Node's process.arch (Docker prints OS/Arch as linux/amd64). */
export function goArch(arch: string = process.arch): string {
  const map: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return map[arch] ?? arch;
}

/** /etc/os-release's PRETTY_NAME and VERSION_ID (Docker's OperatingSystem and OSVersion). */
export function osRelease(text?: string): { name: string; version: string } {
  let body = text;
  if (body === undefined) {
    try {
      body = readFileSync('/etc/os-release', 'utf8');
    } catch {
      body = '';
    }
  }
  const field = (key: string): string => {
    const m = new RegExp(`^${key}=(.*)$`, 'm').exec(body ?? '');
    if (!m) return '';
    const v = m[1]!.trim();
    return /^(["']).*\1$/.test(v) ? v.slice(1, -1) : v;
  };
  return { name: field('PRETTY_NAME') || 'Linux', version: field('VERSION_ID') };
}

/** Go's fmt.Println of a few operands: spaces between them. */
const line = (...parts: Array<string | number | boolean>): string => `${parts.join(' ')}\n`;

/** `docker info`'s text (prettyPrintInfo), for pocker's fields; "Pocker Root Dir" is Docker's "Docker Root Dir". */
export function infoText(i: InfoData): string {
  let out = 'Client:\n';
  out += line(' Version:   ', i.ClientInfo.Version);
  out += line(' Context:   ', i.ClientInfo.Context);
  out += line(' Debug Mode:', i.ClientInfo.Debug);
  out += '\n';
  out += 'Server:\n';
  out += line(' Containers:', i.Containers);
  out += line('  Running:', i.ContainersRunning);
  out += line('  Paused:', i.ContainersPaused);
  out += line('  Stopped:', i.ContainersStopped);
  out += line(' Images:', i.Images);
  out += line(' Server Version:', i.ServerVersion);
  out += line(' Storage Driver:', i.Driver);
  for (const [k, v] of i.DriverStatus) out += line(`  ${k}:`, v);
  out += line(' Logging Driver:', i.LoggingDriver);
  out += line(' Cgroup Driver:', i.CgroupDriver);
  out += line(' Cgroup Version:', i.CgroupVersion);
  out += line(' Runtimes:', Object.keys(i.Runtimes).join(' '));
  out += line(' Default Runtime:', i.DefaultRuntime);
  if (i.SecurityOptions.length > 0) {
    out += ' Security Options:\n';
    for (const so of i.SecurityOptions) {
      // Docker: "name=seccomp,profile=builtin" prints as "  seccomp" and "   Profile: builtin".
      const kv = Object.fromEntries(so.split(',').map((p) => p.split('=') as [string, string]));
      out += `  ${kv.name ?? so}\n`;
      if (kv.profile) out += line('   Profile:', kv.profile);
    }
  }
  out += line(' Kernel Version:', i.KernelVersion);
  out += line(' Operating System:', i.OperatingSystem);
  out += line(' OSType:', i.OSType);
  out += line(' Architecture:', i.Architecture);
  out += line(' CPUs:', i.NCPU);
  out += line(' Total Memory:', bytesSize(i.MemTotal));
  out += line(' Name:', i.Name);
  out += line(' Pocker Root Dir:', i.DockerRootDir);
  out += line(' Debug Mode:', i.Debug);
  out += line(' Experimental:', i.ExperimentalBuild);
  out += line(' Live Restore Enabled:', i.LiveRestoreEnabled);
  out += '\n';
  return out;
}

/** `docker version`'s structure (versionInfo: Client, Server with Components). */
export interface VersionData {
  Client: { Platform: { Name: string }; Version: string; NodeVersion: string; Os: string; Arch: string; Context: string };
  Server: {
    Platform: { Name: string };
    Version: string;
    Os: string;
    Arch: string;
    KernelVersion: string;
    Components: Array<{ Name: string; Version: string; Details: Record<string, string> }>;
  };
}

/** `docker version`'s text (defaultVersionTemplate through a tabwriter of min width 20, padding 1). */
export function versionText(v: VersionData): string {
  const rows: string[] = [];
  rows.push(`Client: ${v.Client.Platform.Name}`);
  rows.push(` Version:\t${v.Client.Version}`);
  rows.push(` Node version:\t${v.Client.NodeVersion}`);
  rows.push(` OS/Arch:\t${v.Client.Os}/${v.Client.Arch}`);
  rows.push(` Context:\t${v.Client.Context}`);
  rows.push('');
  rows.push(`Server: ${v.Server.Platform.Name}`);
  for (const c of v.Server.Components) {
    rows.push(` ${c.Name}:`);
    rows.push(`  Version:\t${c.Version}`);
    for (const key of Object.keys(c.Details)) rows.push(`  ${key}:\t${c.Details[key]}`);
  }
  return formatTable(rows.join('\n'), { minWidth: 20, padding: 1 });
}

interface FormatFlags {
  format?: string;
  root?: string;
}

/** Prints `data` through --format (json or a template), or with `text` when none. */
function printFormatted(data: object, format: string | undefined, text: (d: never) => string): void {
  if (format === undefined || format === '') {
    writeStdout(text(data as never));
    return;
  }
  if (format === 'json') {
    writeStdout(`${goJson(data)}\n`);
    return;
  }
  const body = format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  try {
    checkTemplate(body);
  } catch (err) {
    // Docker: StatusError{StatusCode: 64, Status: "template parsing error: ..."}.
    if (err instanceof TemplateError) throw new TemplateError(err.message, { exitCode: 64 });
    throw err;
  }
  let out: string;
  try {
    out = renderTemplate(body, data as Record<string, unknown>);
  } catch (err) {
    // Docker returns Go's execution error as it is (exit 1): "template: :1:2: executing ...".
    if (err instanceof TemplateError) throw new CliError(err.message, { exitCode: 1 });
    throw err;
  }
  writeStdout(`${out}\n`);
}

/** The facts `pocker info` reports for `root` (containers) and `imageRoot` (images). */
export async function collectInfo(root: string, imageRoot: string, pockerVersion: string, debug: boolean): Promise<InfoData> {
  const { listContainers } = await import('../state/api.js');
  const { listImages } = await import('../image/manage.js');
  const { detectCgroups } = await import('../cgroup/detect.js');
  const containers = await listContainers({ all: true, root });
  const running = containers.filter((c) => c.state === 'running' || c.state === 'restarting').length;
  const images = await listImages({ root: imageRoot });
  let cgroupVersion = '';
  try {
    cgroupVersion = String(detectCgroups().version);
  } catch {
    // No cgroup filesystem: left empty (Docker prints nothing then either).
  }
  const release = osRelease();
  return {
    ID: '',
    Containers: containers.length,
    ContainersRunning: running,
    ContainersPaused: 0,
    ContainersStopped: containers.length - running,
    Images: images.length,
    Driver: 'overlay2',
    DriverStatus: [],
    LoggingDriver: 'json-file',
    CgroupDriver: 'cgroupfs',
    CgroupVersion: cgroupVersion,
    KernelVersion: os.release(),
    OperatingSystem: release.name,
    OSVersion: release.version,
    OSType: 'linux',
    Architecture: os.machine(),
    NCPU: os.availableParallelism(),
    MemTotal: os.totalmem(),
    DockerRootDir: root,
    Name: os.hostname(),
    ServerVersion: pockerVersion,
    Runtimes: { pocker: { path: 'pocker-init' } },
    DefaultRuntime: 'pocker',
    SecurityOptions: ['name=seccomp,profile=builtin', ...(cgroupVersion === '2' ? ['name=cgroupns'] : [])],
    Debug: debug,
    ExperimentalBuild: false,
    LiveRestoreEnabled: false,
    Warnings: [],
    ClientInfo: { Version: pockerVersion, Context: 'default', Debug: debug },
  };
}

/** The facts `pocker version` reports. */
export function collectVersion(pockerVersion: string): VersionData {
  const arch = goArch();
  return {
    Client: { Platform: { Name: 'pocker' }, Version: pockerVersion, NodeVersion: process.version, Os: 'linux', Arch: arch, Context: 'default' },
    Server: {
      Platform: { Name: 'pocker' },
      Version: pockerVersion,
      Os: 'linux',
      Arch: arch,
      KernelVersion: os.release(),
      Components: [
        {
          Name: 'Engine',
          Version: pockerVersion,
          Details: { 'Node version': process.version, 'OS/Arch': `linux/${arch}`, Kernel: os.release(), Experimental: 'false' },
        },
        { Name: 'pocker-init', Version: pockerVersion, Details: {} },
      ],
    },
  };
}

/** Adds `info` (and `system info`) and `version`. `pockerVersion` reads package.json. */
export function addInfoCommands(program: Command, ctx: CliContext, pockerVersion: () => string): void {
  const info = (cmd: Command) =>
    cmd
      .description('Display system-wide information')
      .usage('[OPTIONS]')
      .helpOption('--help', 'Print usage')
      .option('-f, --format <string>', "Format output using a custom template: 'json', or a Go template")
      .option('--root <dir>', 'Root directory of pocker state (default $POCKER_ROOT, else /var/lib/pocker as root, ~/.local/share/pocker rootless)')
      .action((flags: FormatFlags, c: Command) =>
        guard(ctx, async () => {
          const given = rootFlag(ctx, flags, c);
          const root = given ?? defaultStateRoot(ctx.env);
          const imageRoot = given ?? (await import('../image/store.js')).defaultStoreRoot(ctx.env);
          const data = await collectInfo(root, imageRoot, pockerVersion(), ctx.debug === true);
          printFormatted(data, flags.format, infoText);
        }),
      );
  info(program.command('info'));
  const system = program.commands.find((c) => c.name() === 'system');
  if (system) info(system.command('info'));

  program
    .command('version')
    .description('Show the pocker version information')
    .usage('[OPTIONS]')
    .helpOption('--help', 'Print usage')
    .option('-f, --format <string>', "Format output using a custom template: 'json', or a Go template")
    .action((flags: FormatFlags) =>
      guard(ctx, async () => {
        printFormatted(collectVersion(pockerVersion()), flags.format, versionText);
      }),
    );
}
