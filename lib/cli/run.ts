// `pocker run`: Docker's flags mapped onto RunOptions, then the container's life in the
// foreground (stdio, tty, signal proxying, exit code). The library does all validation; this file
// only parses flags. It must stay cheap to import: the runtime (and with it the native addon) is
// loaded lazily, only when a container is actually run.
import { isatty } from 'node:tty';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Container, RunOptions } from '../types.js';
import { CliError, reportFailure } from './failure.js';
import { argumentCountMessage } from './usage.js';
import { resolveEnvEntry } from '../env.js';
import { writeStdout, writeStderr } from './stdio.js';

/** The parsed flags of `pocker run` (commander's camelCase names). */
export interface RunFlags {
  interactive?: boolean;
  tty?: boolean;
  rm?: boolean;
  name?: string;
  env?: string[];
  envFile?: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  entrypoint?: string;
  readOnly?: boolean;
  volume?: string[];
  tmpfs?: string[];
  network?: string[];
  /** `--net`, Docker's alias of `--network`. */
  net?: string[];
  ip?: string;
  ip6?: string;
  networkAlias?: string[];
  macAddress?: string;
  addHost?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOption?: string[];
  init?: boolean;
  memory?: string;
  memorySwap?: string;
  cpus?: string;
  cpuShares?: number;
  cpusetCpus?: string;
  pidsLimit?: number;
  capAdd?: string[];
  capDrop?: string[];
  securityOpt?: string[];
  rootfs?: string;
  root?: string;
  cgroupParent?: string;
  /** `--pull missing|always|never`. */
  pull?: string;
  detach?: boolean;
  logOpt?: string[];
  restart?: string;
  insecureRegistry?: string[];
  /** `--cgroupns host|private`. */
  cgroupns?: string;
  /** `--userns host|auto[:size=N]`, `--uidmap`/`--gidmap CONTAINER:HOST:SIZE` (repeatable). */
  userns?: string;
  uidmap?: string[];
  gidmap?: string[];
  // Docker's run flags of issue 12 (i12-flags):
  label?: string[];
  labelFile?: string[];
  stopSignal?: string;
  stopTimeout?: number;
  ulimit?: string[];
  shmSize?: string;
  device?: string[];
  groupAdd?: string[];
  sysctl?: string[];
  oomKillDisable?: boolean;
  memoryReservation?: string;
  pid?: string;
  ipc?: string;
  uts?: string;
  mount?: string[];
  // Published ports (net-nft)
  publish?: string[];
  publishAll?: boolean;
}

/** Runs a container in the foreground and resolves with the CLI's exit code. */
export type RunExecutor = (options: RunOptions) => Promise<number>;

/** What the CLI needs from its surroundings (injectable for tests). */
export interface CliContext {
  env: NodeJS.ProcessEnv;
  execute: RunExecutor;
  writeErr: (text: string) => void;
  /** Set by the command's action. */
  exitCode: number;
  /** Debug mode (the global `-D, --debug`): failures name the library's step. */
  debug?: boolean;
}

/**
 * The state root a command was given: its own --root, a parent command's (`pocker --root DIR …`),
 * then $POCKER_ROOT; undefined when none (the library's default then applies).
 */
export function rootFlag(ctx: Pick<CliContext, 'env'>, flags: { root?: string }, cmd: Command): string | undefined {
  if (flags.root !== undefined) return flags.root;
  for (let c = cmd.parent; c; c = c.parent) {
    const root = c.opts<{ root?: string }>().root;
    if (root !== undefined) return root;
  }
  return ctx.env.POCKER_ROOT || undefined;
}


/** Splits `run`'s positionals: IMAGE first, unless `--rootfs` is given (then all are the command). */
export function splitPositionals(positionals: string[], flags: Pick<RunFlags, 'rootfs'>): { image: string | undefined; args: string[] } {
  if (flags.rootfs !== undefined) return { image: undefined, args: [...positionals] };
  const [image, ...args] = positionals;
  return { image, args };
}

/**
 * `-e KEY=VALUE` as given; `-e KEY` takes KEY's value from `env`, and is dropped when unset (Docker).
 * An entry without a name (`-e ""`, `-e =x`) is refused as Docker's ValidateEnv refuses it.
 */
export function resolveEnvFlags(entries: string[], env: NodeJS.ProcessEnv): string[] {
  for (const e of entries) {
    if (e.split('=', 1)[0] === '') throw new CliError(`invalid argument ${JSON.stringify(e)} for "-e, --env" flag: invalid environment variable: ${e}`);
  }
  return entries.map((e) => resolveEnvEntry(e, env)).filter((e): e is string => e !== undefined);
}

/**
 * Maps `pocker run`'s flags to the library's RunOptions. Pure: no I/O, no validation (the library
 * validates and throws PockerError with step `validate`). Only flags that were given appear.
 */
export function toRunOptions(image: string | undefined, args: string[], flags: RunFlags, env: NodeJS.ProcessEnv = {}): RunOptions {
  const o: RunOptions = {};
  if (image !== undefined) o.image = image;
  if (flags.rootfs !== undefined) o.rootfs = flags.rootfs;
  if (args.length > 0) o.cmd = [...args];
  if (flags.entrypoint !== undefined) o.entrypoint = flags.entrypoint;
  if (flags.env?.length) o.env = resolveEnvFlags(flags.env, env);
  if (flags.envFile?.length) o.envFile = [...flags.envFile];
  if (flags.workdir !== undefined) o.workdir = flags.workdir;
  if (flags.user !== undefined) o.user = flags.user;
  if (flags.hostname !== undefined) o.hostname = flags.hostname;
  if (flags.name !== undefined) o.name = flags.name;
  if (flags.readOnly) o.readOnly = true;
  if (flags.volume?.length) o.volumes = [...flags.volume];
  if (flags.tmpfs?.length) o.tmpfs = [...flags.tmpfs];
  const network = [...(flags.network ?? []), ...(flags.net ?? [])];
  // Passed as given: the library validates them (and the store knows the networks).
  if (network.length) o.network = network.length === 1 ? network[0]! : network;
  if (flags.ip !== undefined) o.ip = flags.ip;
  if (flags.ip6 !== undefined) o.ip6 = flags.ip6;
  if (flags.networkAlias?.length) o.networkAliases = [...flags.networkAlias];
  if (flags.macAddress !== undefined) o.macAddress = flags.macAddress;
  if (flags.addHost?.length) o.addHosts = [...flags.addHost];
  if (flags.dns?.length) o.dns = [...flags.dns];
  if (flags.dnsSearch?.length) o.dnsSearch = [...flags.dnsSearch];
  if (flags.dnsOption?.length) o.dnsOptions = [...flags.dnsOption];
  if (flags.init) o.init = true;
  if (flags.memory !== undefined) o.memory = flags.memory;
  if (flags.memorySwap !== undefined) o.memorySwap = flags.memorySwap.trim() === '-1' ? -1 : flags.memorySwap;
  if (flags.cpus !== undefined) o.cpus = flags.cpus;
  if (flags.cpuShares !== undefined) o.cpuShares = flags.cpuShares;
  if (flags.cpusetCpus !== undefined) o.cpusetCpus = flags.cpusetCpus;
  if (flags.pidsLimit !== undefined) o.pidsLimit = flags.pidsLimit;
  if (flags.capAdd?.length) o.capAdd = [...flags.capAdd];
  if (flags.capDrop?.length) o.capDrop = [...flags.capDrop];
  if (flags.securityOpt?.length) o.securityOpt = [...flags.securityOpt];
  if (flags.rm) o.rm = true;
  const root = flags.root ?? (env.POCKER_ROOT || undefined);
  if (root !== undefined) o.root = root;
  if (flags.cgroupParent !== undefined) o.cgroupParent = flags.cgroupParent;
  // Passed as given: the library rejects anything but missing|always|never.
  if (flags.pull !== undefined) o.pull = flags.pull as RunOptions['pull'];
  if (flags.insecureRegistry?.length) o.insecureRegistries = [...flags.insecureRegistry];
  if (flags.logOpt?.length) o.logOpts = parseLogOpts(flags.logOpt);
  if (flags.restart !== undefined) o.restart = flags.restart;
  // Passed as given: the library rejects anything but host|private.
  if (flags.cgroupns !== undefined) o.cgroupns = flags.cgroupns as RunOptions['cgroupns'];
  // Passed as given: the library validates them (lib/userns).
  if (flags.userns !== undefined) o.userns = flags.userns;
  if (flags.uidmap?.length) o.uidmap = [...flags.uidmap];
  if (flags.gidmap?.length) o.gidmap = [...flags.gidmap];
  runFlagOptions(o, flags);
  // Published ports (net-nft): passed as given; the library parses and validates them.
  if (flags.publish?.length) o.publish = [...flags.publish];
  if (flags.publishAll) o.publishAll = true;
  if (flags.detach) {
    // The container's own monitor owns its output (the json-file log); the library checks -i/-t.
    o.detach = true;
    if (flags.tty) o.tty = true;
    if (flags.interactive) o.interactive = true;
    o.stdio = 'ignore';
    return o;
  }
  if (flags.tty) {
    // The pty's master side comes back as container.stdin/stdout; the CLI pumps them.
    o.tty = true;
    if (flags.interactive) o.interactive = true;
    o.stdio = 'pipe';
  } else {
    // The CLI's own fds go straight to the container: no copying through Node.
    o.stdio = [flags.interactive ? 'inherit' : 'ignore', 'inherit', 'inherit'];
  }
  return o;
}

/** `--log-opt max-size=10m --log-opt max-file=3` -> { maxSize: '10m', maxFile: 3 }. */
export function parseLogOpts(opts: string[]): NonNullable<RunOptions['logOpts']> {
  const out: NonNullable<RunOptions['logOpts']> = {};
  for (const opt of opts) {
    const eq = opt.indexOf('=');
    const key = eq < 0 ? opt : opt.slice(0, eq);
    const value = eq < 0 ? '' : opt.slice(eq + 1);
    if (key === 'max-size') out.maxSize = value;
    else if (key === 'max-file' && /^\d+$/.test(value)) out.maxFile = Number(value);
    else throw new CliError(`invalid log option ${JSON.stringify(opt)}: supported are max-size=SIZE and max-file=N`);
  }
  return out;
}

/** The command a container was asked to exec, for error messages. */
export function requestedCommand(options: RunOptions): string | undefined {
  return options.entrypoint || options.cmd?.[0] || undefined;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function integer(value: string): number {
  if (!/^\s*[+-]?\d+\s*$/.test(value)) throw new InvalidArgumentError('Not an integer.');
  return Number(value);
}

// ---------------------------------------------------------------------------------------------
// Docker's run flags of issue 12 (i12-flags): parsed here as given, validated by the library.

/** The flags of issue 12 onto RunOptions (only those given). */
function runFlagOptions(o: RunOptions, flags: RunFlags): void {
  if (flags.label?.length) o.labels = [...flags.label];
  if (flags.labelFile?.length) o.labelFile = [...flags.labelFile];
  if (flags.stopSignal !== undefined) o.stopSignal = flags.stopSignal;
  if (flags.stopTimeout !== undefined) o.stopTimeout = flags.stopTimeout;
  if (flags.ulimit?.length) o.ulimits = [...flags.ulimit];
  if (flags.shmSize !== undefined) o.shmSize = flags.shmSize;
  if (flags.device?.length) o.devices = [...flags.device];
  if (flags.groupAdd?.length) o.groupAdd = [...flags.groupAdd];
  if (flags.sysctl?.length) o.sysctls = [...flags.sysctl];
  if (flags.oomKillDisable) o.oomKillDisable = true;
  if (flags.memoryReservation !== undefined) o.memoryReservation = flags.memoryReservation;
  // Passed as given: the library rejects unknown modes.
  if (flags.pid !== undefined) o.pid = flags.pid as RunOptions['pid'];
  if (flags.ipc !== undefined) o.ipc = flags.ipc as RunOptions['ipc'];
  // Passed as given: the library rejects anything but host.
  if (flags.uts !== undefined) o.uts = flags.uts as RunOptions['uts'];
  if (flags.mount?.length) o.mounts = [...flags.mount];
}

function withRunFlagOptions(cmd: Command): Command {
  return cmd
    .option('-l, --label <key=value>', 'Set meta data on a container', collect)
    .option('--label-file <file>', 'Read in a line delimited file of labels', collect)
    .option('--stop-signal <signal>', 'Signal to stop the container (default: the image\'s STOPSIGNAL, else SIGTERM)')
    .option('--stop-timeout <seconds>', 'Timeout (in seconds) to stop a container (default 10)', integer)
    .option('--ulimit <ulimit>', 'Ulimit options (NAME=SOFT[:HARD], e.g. nofile=1024:2048)', collect)
    .option('--shm-size <bytes>', 'Size of /dev/shm (default 64m)')
    .option('--device <list>', 'Add a host device to the container (HOST[:CONTAINER][:PERMISSIONS])', collect)
    .option('--group-add <group>', 'Add additional groups to join', collect)
    .option('--sysctl <key=value>', 'Sysctl options (namespaced: kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, net.*)', collect)
    .option('--oom-kill-disable', 'Disable OOM Killer (cgroup v1)')
    .option('--memory-reservation <bytes>', 'Memory soft limit')
    .option('--pid <mode>', 'PID namespace to use: host or container:NAME|ID')
    .option('--ipc <mode>', 'IPC mode to use: private (default), shareable, none, host or container:NAME|ID')
    .option('--uts <mode>', 'UTS namespace to use: host')
    .option('--mount <mount>', 'Attach a filesystem mount to the container (type=bind|volume|tmpfs,src=…,dst=…[,ro])', collect);
}

/** The options `run` and `create` share (Docker's; `create` has no -d). */
function withContainerOptions(cmd: Command, detachable: boolean): Command {
  cmd
    .option('-i, --interactive', 'Keep STDIN open')
    .option('-t, --tty', 'Allocate a pseudo-TTY')
    .option('--rm', 'Remove the container when it exits')
    .option('--name <name>', 'Assign a name to the container')
    .option('-e, --env <KEY[=VALUE]>', 'Set environment variables (KEY alone: from this environment)', collect)
    .option('--env-file <file>', 'Read in a file of environment variables', collect)
    .option('-w, --workdir <dir>', 'Working directory inside the container')
    .option('-u, --user <user>', 'Username or UID (format: <name|uid>[:<group|gid>])')
    .option('-h, --hostname <name>', 'Container host name')
    .option('--entrypoint <cmd>', 'Overwrite the default ENTRYPOINT of the image')
    .option('--read-only', "Mount the container's root filesystem as read only")
    .option('-v, --volume <src:dst[:ro]>', 'Bind mount a volume', collect)
    .option('--tmpfs <path[:options]>', 'Mount a tmpfs directory', collect)
    .option('--network <network>', 'Connect a container to a network: bridge (default), none, host, container:NAME or a network (repeatable)', collect)
    .addOption(new Option('--net <network>', 'Alias of --network').argParser(collect).hideHelp())
    .option('--ip <address>', 'IPv4 address (e.g., 172.30.100.104)')
    .option('--ip6 <address>', 'IPv6 address (e.g., 2001:db8::33)')
    .option('--network-alias <alias>', 'Add network-scoped alias for the container', collect)
    .option('--mac-address <mac>', 'Container MAC address (e.g., 92:d0:c6:0a:29:33)')
    .option('--add-host <host:ip>', 'Add a custom host-to-IP mapping (host:ip)', collect)
    .option('--dns <ip>', 'Set custom DNS servers', collect)
    .option('--dns-search <domain>', 'Set custom DNS search domains', collect)
    .option('--dns-option <option>', 'Set DNS options', collect)
    .option('--init', 'Run an init inside the container that forwards signals and reaps processes')
    .option('-m, --memory <bytes>', 'Memory limit')
    .option('--memory-swap <bytes>', "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    .option('--cpus <number>', 'Number of CPUs')
    .option('-c, --cpu-shares <int>', 'CPU shares (relative weight)', integer)
    .option('--cpuset-cpus <cpus>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('--pids-limit <int>', 'Tune container pids limit (-1 for unlimited)', integer)
    .option('--cap-add <cap>', 'Add Linux capabilities', collect)
    .option('--cap-drop <cap>', 'Drop Linux capabilities', collect)
    .option('--security-opt <opt>', 'Security options', collect)
    .option('--rootfs <dir>', 'Use an exploded root filesystem directory instead of an image')
    .option('--root <dir>', 'Root directory of pocker state (default $POCKER_ROOT, else /var/lib/pocker as root, ~/.local/share/pocker rootless)')
    .option('--cgroup-parent <path>', 'Optional parent cgroup for the container')
    .option('--pull <policy>', 'Pull image before running: missing (default), always or never');
  withRunFlagOptions(cmd);
  if (detachable) cmd.option('-d, --detach', 'Run container in background and print container ID');
  return cmd
    .option('--restart <policy>', 'Restart policy to apply when a container exits: no, on-failure[:N], always, unless-stopped')
    .option('--log-opt <opt>', 'Log driver options: max-size=SIZE, max-file=N', collect)
    .option('--insecure-registry <host>', 'Reach this registry over plain HTTP (loopback ones always are)', collect)
    .option('--userns <mode>', 'User namespace to use (host|auto[:size=N]): auto gives the container its own range of ids from the "pocker" entry of /etc/subuid and /etc/subgid')
    .option('--uidmap <container:host:size>', "UID map for the container's user namespace (repeatable)", collect)
    .option('--gidmap <container:host:size>', "GID map for the container's user namespace (repeatable; default: the UID maps)", collect)
    .option('--cgroupns <mode>', "Cgroup namespace to use (host|private): default private on cgroup v2, host on v1")
    // Published ports (net-nft)
    .option('-p, --publish <[ip:][hostPort:]containerPort[/proto]>', "Publish a container's port(s) to the host", collect)
    .option('-P, --publish-all', 'Publish all exposed ports to random ports');
}

/** Parses `run`/`create` positionals and flags into RunOptions; null (after Docker's usage error) without an image. */
function parseRunCommand(name: string, positionals: string[], flags: RunFlags, cmd: Command, ctx: CliContext): RunOptions | null {
  const globalRoot = cmd.parent?.opts<{ root?: string }>().root;
  const merged: RunFlags = { ...flags };
  if (merged.root === undefined && globalRoot !== undefined) merged.root = globalRoot;
  const { image, args } = splitPositionals(positionals, merged);
  if (image === undefined && merged.rootfs === undefined) {
    // Docker's arity error (cli/required.go RequiresMinArgs(1): exit 1).
    ctx.writeErr(`${argumentCountMessage(cmd, [1, Infinity])}\n`);
    ctx.exitCode = 1;
    return null;
  }
  return toRunOptions(image, args, merged, ctx.env);
}

/** Adds `create` to the program: a container made (image pulled, name claimed), not started. */
export function addCreateCommand(program: Command, ctx: CliContext): Command {
  const cmd = program
    .command('create')
    .description('Create a new container (start it with `pocker start`)')
    .usage('[OPTIONS] (IMAGE | --rootfs DIR) [COMMAND] [ARG...]')
    .helpOption('--help', 'Print usage')
    .argument('[args...]', 'IMAGE, then the command and its arguments (with --rootfs: the command and its arguments)')
    .passThroughOptions()
    .showHelpAfterError("See 'pocker create --help'.");
  return withContainerOptions(cmd, false).action(async (positionals: string[], flags: RunFlags, c: Command) => {
    // A created container is run by its monitor, as with -d.
    const options = parseRunCommand('create', positionals, { ...flags, detach: true }, c, ctx);
    if (!options) return;
    try {
      const { create } = await import('../runtime/run.js');
      const pull = await pullProgress(options);
      try {
        const made = await create({ ...options, ...pull.options });
        writeStdout(`${made.id}\n`);
      } finally {
        pull.stop();
      }
      ctx.exitCode = 0;
    } catch (err) {
      reportFailure(ctx, err, 'run', undefined, 'pocker create');
    }
  });
}

/**
 * How `run` and `create` report a pull: a missing image is pulled first, with Docker's messages and
 * progress on stderr. The reporter is made on the first event: on a terminal it draws (and resets
 * the cursor), which must not happen when nothing is pulled. The built-in `host` image and a
 * --rootfs are never pulled, so their runs do not load the progress module (cli-progress and its
 * modules: ~0.3 ms of a run, issue 12).
 */
async function pullProgress(options: RunOptions): Promise<{ options: Pick<RunOptions, 'onPull'>; stop(): void }> {
  if (options.image === undefined || options.image === 'host') return { options: {}, stop: () => undefined };
  const { pullReporter } = await import('./progress.js');
  let report: ReturnType<typeof pullReporter> | undefined;
  return {
    options: {
      onPull: (ev) => {
        if (ev.type === 'resolving') writeStderr(`Unable to find image '${ev.reference}' locally\n`);
        (report ??= pullReporter(process.stderr))(ev);
      },
    },
    stop: () => report?.stop(),
  };
}

/** Adds `run` to the program. `ctx.execute` runs the container (the real one: `executeRun`). */
export function addRunCommand(program: Command, ctx: CliContext): Command {
  const cmd = program
    .command('run')
    .description('Create and run a new container from an image or a root filesystem directory')
    .usage('[OPTIONS] (IMAGE | --rootfs DIR) [COMMAND] [ARG...]')
    // -h is --hostname, as in Docker.
    .helpOption('--help', 'Print usage')
    .argument('[args...]', 'IMAGE, then the command and its arguments (with --rootfs: the command and its arguments)')
    // Everything after the first positional belongs to the container's command.
    .passThroughOptions()
    .showHelpAfterError("See 'pocker run --help'.");
  return withContainerOptions(cmd, true)
    .action(async (positionals: string[], flags: RunFlags, c: Command) => {
      const options = parseRunCommand('run', positionals, flags, c, ctx);
      if (!options) return;
      try {
        ctx.exitCode = await ctx.execute(options);
      } catch (err) {
        reportFailure(ctx, err, 'run', requestedCommand(options), 'pocker run');
      }
    });
}

/** The signals the CLI passes on to its container (Docker's sig-proxy), for run and attach. */
export const proxiedSignals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** The terminal size to give a pty: stdout's, else stderr's. */
function terminal(): NodeJS.WriteStream | undefined {
  if (process.stdout.isTTY) return process.stdout;
  if (process.stderr.isTTY) return process.stderr;
  return undefined;
}

/**
 * Runs a container in the foreground, like `docker run` without -d: wires stdio (and the pty with
 * -t), proxies signals, and resolves with the container's exit code. Throws the library's errors.
 */
export async function executeRun(options: RunOptions, start?: (options: RunOptions) => Promise<Container>): Promise<number> {
  const tty = options.tty === true;
  const interactive = options.interactive === true;
  // Checked on fd 0 without touching process.stdin (which would open a handle on it).
  // Detached (-dit), the terminal is the container's monitor's to serve: ours is not needed.
  // Docker (cli/streams/in.go CheckTty, through v29.3): "the input device is not a TTY", exit 1.
  if (tty && interactive && !options.detach && !isatty(0)) throw new CliError('the input device is not a TTY', { exitCode: 1 });
  const term = tty ? terminal() : undefined;
  if (term?.columns && term.rows) options = { ...options, ttySize: { rows: term.rows, cols: term.columns } };

  let container: Container | undefined;
  const pending: NodeJS.Signals[] = [];
  const forward = (signal: NodeJS.Signals): void => {
    if (!container) {
      pending.push(signal);
      return;
    }
    try {
      container.kill(signal);
    } catch {
      // The container already ended (ESRCH): wait() reports how.
    }
  };
  // Docker's sig-proxy. With -t and a raw terminal, Ctrl-C reaches the container as a byte through
  // the pty, so SIGINT here only comes from kill(1) or a non-raw terminal: forwarding it is right
  // then too, and it keeps the CLI from dying with the terminal left in raw mode.
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const signal of proxiedSignals) {
    const handler = (): void => forward(signal);
    handlers.set(signal, handler);
    process.on(signal, handler);
  }

  let rawSet = false;
  const restoreTerminal = (): void => {
    if (rawSet) {
      rawSet = false;
      try {
        process.stdin.setRawMode(false);
      } catch {
        // stdin already gone.
      }
    }
  };
  const onResize = (): void => {
    if (container && term?.columns && term.rows) {
      try {
        container.resize(term.rows, term.columns);
      } catch {
        // The container ended.
      }
    }
  };
  let stdinPiped = false;

  try {
    // `start` is exec's way in: the same stdio, pty and signal handling for a process in a container.
    const run = start ?? (await import('../runtime/run.js')).run;
    const pull = await pullProgress(options);
    let c: Container;
    try {
      c = await run({ ...options, ...pull.options });
      if (options.detach) {
        writeStdout(`${c.id}\n`);
        return 0;
      }
    } finally {
      pull.stop();
    }
    container = c;
    for (const signal of pending.splice(0)) forward(signal);

    // The end of the pty's output, when there is one to drain.
    let outputDone: Promise<void> | undefined;
    if (tty) {
      if (interactive && c.stdin) {
        const stdin = process.stdin;
        if (stdin.isTTY) {
          stdin.setRawMode(true);
          rawSet = true;
          process.once('exit', restoreTerminal);
        }
        c.stdin.on('error', () => {
          // EIO/EPIPE once the container has ended.
        });
        stdin.pipe(c.stdin);
        stdinPiped = true;
      }
      if (term) term.on('resize', onResize);
      const out = c.stdout;
      if (out) {
        outputDone = new Promise<void>((resolve) => {
          out.once('end', resolve);
          out.once('close', resolve);
          // A pty master reads EIO when the last slave fd closes: that is the end of output.
          out.once('error', () => resolve());
        });
        out.pipe(process.stdout, { end: false });
      }
    }

    const status = await c.wait();
    // Everything the container wrote must reach our stdout before we exit. wait() resolves once
    // the container's processes are gone, so the pty drains promptly; don't hang if it does not.
    // Without a pty there is nothing to drain (the container wrote to our stdout itself), and no
    // timer is made: a process's first timer costs ~0.6 ms here (issue 12).
    if (outputDone) {
      let drainTimer: NodeJS.Timeout | undefined;
      await Promise.race([outputDone, new Promise<void>((resolve) => { drainTimer = setTimeout(resolve, 2000); })]);
      clearTimeout(drainTimer);
    }
    if (status.oomKilled) {
      writeStderr(`pocker: container ${c.name} was killed: out of memory (OOM)\n`);
    }
    return status.exitCode;
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
    if (term) term.off('resize', onResize);
    if (stdinPiped) {
      process.stdin.unpipe();
      process.stdin.pause();
    }
    restoreTerminal();
    process.off('exit', restoreTerminal);
  }
}
