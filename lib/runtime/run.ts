// run(): validate, lay out the container's directories, create its cgroups, hand the resolved spec
// to pocker-init through the addon, and give back a handle with streams, wait() and kill().
import { chownSync, closeSync, existsSync, openSync, readdirSync, statSync } from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';
import type { Readable, Writable } from 'node:stream';

import { createCgroups, detectCgroups, planCgroups, removeCgroups, type CgroupPlan } from '../cgroup/index.js';
import { PockerError, errnoName, fromSystemError, kernelHint } from '../errors.js';
import { native, type NativeEvent, type NativeMonitor } from '../native.js';
import {
  claimName,
  clearStopRequested,
  configDocument,
  containerDir,
  createContainerDir,
  currentOwner,
  describeContainer,
  effectiveState,
  findContainer,
  logPathOf,
  readConfig,
  releaseName,
  removeContainerDir,
  runningMonitorPids,
  stateRoot,
  withContainerLock,
  writeConfig,
  type ContainerEntry,
  type ContainerMeta,
  type ListedContainer,
  type OciDocument,
  type StoredRun,
} from '../container/index.js';
import type { Container, ExitStatus, RunOptions, StdioOption } from '../types.js';
import { attachDir, attachFd, type Attachment } from './attach.js';
import { applyImageDefaults, resolveRunOptions, type ResolvedRunConfig } from './options.js';
import { removeAnonymousVolumesSync, withContainerVolumes, type ContainerVolume } from '../volume/index.js';
import { processEnd, signalDetached, signalName, signalNumber } from './signals.js';
import { buildSpec as buildFullSpec, eventAttributes, type SpecLayout } from '../spec/build.js';
import { callerIdMaps, checkRootless, isRootless, isUserModeNetwork, prepareDelegated, rootlessCgroupPlan, userModeSetup } from '../rootless/index.js';
import type { CgroupInfo } from '../cgroup/detect.js';
import { recordEvent } from '../state/events.js';
import { procStat } from '../proc.js';
import { hiddenStorePaths } from '../spec/hidden.js';
import { resolveForStart } from './namespaces.js';
import { checkNetworkRequests, networkStarted, releaseArgv, releaseContainerNetwork, setupContainerNetwork, writeUserModeNetworkDoc } from '../network/attach.js';
import { allocatePorts, exposedPorts, toDockerPorts, withPublishAll, type PortSpec } from '../network/ports.js';
import { containerLive } from '../network/store.js';
import type { PockerSection } from '../spec/pocker.js';
import { allocateAuto, hostIdOf, type UsernsMaps, type UsernsRequest } from '../userns/index.js';
import { isoTime } from '../state/timestamps.js';

/**
 * The network of one start, into `document`: for bridge and user-defined networks the leases,
 * bridges, rules, published ports, hosts and resolv.conf (setupContainerNetwork), as
 * pocker.network (interfaces + the cleanup argv) and two bind mounts; for `container:` the donor's
 * hosts and resolv.conf. True when something was made that releaseContainerNetwork gives back.
 */
async function startNetwork(cfg: ResolvedRunConfig, name: string, document: OciDocument): Promise<boolean> {
  const mounts = (document.mounts ??= []);
  const bind = (destination: string, source: string) => {
    if (existsSync(source) && !mounts.some((m) => m.destination === destination)) mounts.push({ destination, type: 'bind', source, options: ['rbind', 'rprivate'] });
  };
  if (cfg.networks?.length) {
    const setup = await setupContainerNetwork(
      cfg.root,
      {
        id: cfg.id,
        name,
        hostname: cfg.hostname,
        ...(cfg.addHosts ? { extraHosts: cfg.addHosts } : {}),
        ...(cfg.dns ? { dns: cfg.dns } : {}),
        ...(cfg.dnsSearch ? { dnsSearch: cfg.dnsSearch } : {}),
        ...(cfg.dnsOptions ? { dnsOptions: cfg.dnsOptions } : {}),
      },
      cfg.networks,
      // -P: every exposed port not published already gets a free host port (Docker's).
      cfg.publishAll ? withPublishAll(cfg.publish ?? [], cfg.exposed ?? []) : (cfg.publish ?? []),
      cfg.exposed ?? [],
    );
    (document.pocker as PockerSection).network = { interfaces: setup.interfaces, cleanup: setup.cleanup };
    bind('/etc/hosts', setup.hosts);
    bind('/etc/resolv.conf', setup.resolv);
    return true;
  }
  if (isUserModeNetwork(cfg.network) && document.pocker) {
    const pocker = document.pocker as PockerSection;
    // The host ports of a user-mode network, random ones too, claimed as root mode claims them
    // (lib/network/ports.ts: ephemeral range, test bind, claim files) and handed to the stack as
    // fixed ports; network.json records them for `pocker port`, ps PORTS and inspect.
    const specs = cfg.publishAll ? withPublishAll(cfg.publish ?? [], cfg.exposed ?? []) : (cfg.publish ?? []);
    const mappings = await allocatePorts(cfg.root, cfg.id, specs, '', { isLive: (id) => containerLive(cfg.root, id) });
    const fixed: PortSpec[] = mappings.map((m) => ({ hostIp: m.hostIp, hostPortStart: m.hostPort, hostPortEnd: m.hostPort, containerPortStart: m.containerPort, containerPortEnd: m.containerPort, protocol: m.protocol }));
    // Its last end gives the claims back and empties network.json's Ports (`network __release`, as root mode's).
    pocker.network = { interfaces: [], ...userModeSetup(fixed, cfg.network), ...(mappings.length ? { cleanup: releaseArgv(cfg.root, cfg.id) } : {}) };
    writeUserModeNetworkDoc(cfg.root, cfg.id, name, cfg.hostname, toDockerPorts(mappings, cfg.exposed ?? []));
    return mappings.length > 0;
  }
  if (cfg.joins?.netDir) {
    bind('/etc/hosts', join(cfg.joins.netDir, 'hosts'));
    bind('/etc/resolv.conf', join(cfg.joins.netDir, 'resolv.conf'));
  }
  return false;
}

/** What the store keeps of the issue-12 run flags for every container, foreground ones too (i12-flags). */
function runFlagsMeta(cfg: ResolvedRunConfig): Pick<ContainerMeta, 'labels' | 'stopSignal' | 'stopTimeout' | 'ipcMode' | 'volumes'> {
  const volumes = containerVolumes(cfg).map((v) => v.name);
  return {
    ...(volumes.length ? { volumes } : {}),
    ...(cfg.labels ? { labels: cfg.labels } : {}),
    ...(cfg.stopSignal ? { stopSignal: cfg.stopSignal } : {}),
    ...(cfg.stopTimeout !== undefined ? { stopTimeout: cfg.stopTimeout } : {}),
    ...(cfg.ipcMode ? { ipcMode: cfg.ipcMode } : {}),
  };
}

/** The volumes of <root>/volumes/ the container mounts (named and anonymous). */
function containerVolumes(cfg: Pick<ResolvedRunConfig, 'mounts'>): ContainerVolume[] {
  return cfg.mounts.flatMap((m) => (m.kind === 'volume' && m.volume ? [{ name: m.volume.name, anonymous: m.volume.anonymous }] : []));
}

/** `run --rm` (foreground) ends: its anonymous volumes go with it (Docker's), once its directory is gone. */
function removeRunVolumes(cfg: ResolvedRunConfig): void {
  if (cfg.rm) removeAnonymousVolumesSync(cfg.root, containerVolumes(cfg).filter((v) => v.anonymous).map((v) => v.name));
}

/**
 * Crash-safety tests: when `POCKER_FAULT` names this point, the process SIGKILLs itself there
 * (points: after-claim, after-dir, after-cgroups, after-spawn, after-started; lifecycle.ts:
 * after-stop-mark).
 */
export function faultPoint(name: string): void {
  if (process.env.POCKER_FAULT === name) process.kill(process.pid, 'SIGKILL');
}

export { signalNumber };

type Layout = SpecLayout;

/** Where the container's layers live. Overlayfs refuses an upper dir inside a lower one, so when
 * the lower contains the state root (the `host` image is `/`), the writable layer goes on a tmpfs
 * private to the container's mount namespace instead. */
function layout(cfg: ResolvedRunConfig, lowers: string[]): Layout {
  const dir = containerDir(cfg.root, cfg.id);
  const inside = lowers.some((lower) => {
    const rel = relative(lower, dir);
    return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
  });
  return inside
    ? { dir, lowers, scratchUpper: true, upper: join(dir, 'scratch'), work: '', rootfs: join(dir, 'rootfs') }
    : { dir, lowers, scratchUpper: false, upper: join(dir, 'upper'), work: join(dir, 'work'), rootfs: join(dir, 'rootfs') };
}

/** What start needs of a config (the layout without its dir, caps as hex). */
function storedRun(cfg: ResolvedRunConfig, l: Layout, stdinOnce: boolean): StoredRun {
  const { dir: _dir, ...layout } = l;
  return { config: { ...cfg, caps: `0x${cfg.caps.toString(16)}` }, layout, stdinOnce };
}

/**
 * An image's VOLUMEs get anonymous volumes (`containers/<id>/volumes/<n>`, removed with the
 * container), each filled by pocker-init from the image's content at that path, as Docker does;
 * a path the caller mounts something on (or under which it mounts) keeps the caller's mount.
 */
function withImageVolumes(cfg: ResolvedRunConfig, paths: string[]): ResolvedRunConfig {
  const taken = cfg.mounts.map((m) => m.dst);
  const mounts = [...cfg.mounts];
  let n = 0;
  for (const raw of paths) {
    if (!raw.startsWith('/')) continue;
    const dst = raw.replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
    if (dst === '/' || dst === '/proc' || dst.startsWith('/proc/') || dst === '/sys' || dst.startsWith('/sys/')) continue;
    if (taken.some((t) => t === dst || dst.startsWith(`${t}/`))) continue;
    mounts.push({ kind: 'image-volume', src: join(containerDir(cfg.root, cfg.id), 'volumes', String(n++)), dst, readonly: false, data: '' });
  }
  return n ? { ...cfg, mounts } : cfg;
}

/** The maps of a container's user namespace request (`auto`: allocated now; see lib/userns). */
function usernsMapsFor(root: string, req: UsernsRequest): UsernsMaps {
  return req.mode === 'auto' ? allocateAuto(root, req.size) : { mode: 'map', uidMappings: req.uidMappings, gidMappings: req.gidMappings };
}

/**
 * The container's own volumes (its image VOLUMEs' anonymous ones, and store volumes still empty)
 * belong to its user namespace's root, as Docker's userns-remap makes them: that root is a mapped
 * id which could not write a directory of the host's root. A volume that holds files keeps its owner.
 */
function chownVolumesForUserns(cfg: ResolvedRunConfig): void {
  const uid = hostIdOf(cfg.usernsMaps!.uidMappings, 0), gid = hostIdOf(cfg.usernsMaps!.gidMappings, 0);
  if (uid === undefined || gid === undefined) return;
  for (const m of cfg.mounts) {
    if (m.kind !== 'image-volume' && m.kind !== 'volume') continue;
    const st = statSync(m.src);
    if (m.kind === 'volume' && (readdirSync(m.src).length > 0 || st.uid !== 0)) continue;
    chownSync(m.src, uid, gid);
  }
}

/** What run() prepared on disk: the config (with the image's defaults applied) and the layout. */
interface Prepared {
  cfg: ResolvedRunConfig;
  l: Layout;
  /** config.json as written: the document pocker-init is handed. */
  document: OciDocument;
}

/**
 * Resolves the rootfs (an image is found, or pulled, in the store) and creates the container's
 * directory with its config.json. For an image this happens under the store's lock, so an rmi or
 * prune running at the same time sees the container and keeps its layers.
 */
async function prepare(resolved: ResolvedRunConfig, options: RunOptions, plan: CgroupPlan, stdinOnce = false): Promise<Prepared> {
  const create = async (cfg: ResolvedRunConfig, lowers: string[], image: ContainerMeta['image'], stopSignal?: string): Promise<Prepared> => {
    cfg = resolveForStart(cfg, lowers);
    const l = layout(cfg, lowers);
    let named = cfg;
    // config.json: the OCI document pocker-init is handed, with the store's record in it.
    let document: OciDocument = { ociVersion: '' };
    // The name is claimed (unique across processes) right before the directory is made, under the
    // names lock: the store makes the directory and writes the records.
    const claim = () => claimName(cfg.root, options.name === undefined ? undefined : cfg.name, cfg.id, (name) => {
      // A user namespace's maps: `auto`'s range is allocated here, under the names lock, and
      // recorded in config.json below before the lock goes (lib/userns).
      if (cfg.userns) cfg = { ...cfg, usernsMaps: usernsMapsFor(cfg.root, cfg.userns) };
      named = { ...cfg, name };
      faultPoint('after-claim');
      const meta: ContainerMeta = {
        id: cfg.id,
        name,
        created: isoTime(),
        args: cfg.args,
        image,
        cgroups: plan.leafDirs,
        cgroupParent: cfg.cgroupParent,
        // A foreground container is this process's (it has no state.json): dead, it is not running.
        ...(cfg.detach ? { run: storedRun({ ...cfg, name }, l, stdinOnce) } : { owner: currentOwner() }),
        process: { env: cfg.env, cwd: cfg.cwd, user: cfg.user, caps: `0x${cfg.caps.toString(16)}`, noNewPrivs: cfg.noNewPrivs },
        ...(stopSignal ? { stopSignal } : {}),
        ...runFlagsMeta(cfg),
        ...(cfg.usernsMaps ? { userns: cfg.usernsMaps } : {}),
      };
      createContainerDir(l.dir, {
        dirs: [
          { path: l.rootfs, mode: 0o755 },
          { path: l.upper, mode: 0o755 },
          ...(l.work ? [{ path: l.work, mode: 0o700 }] : []),
          ...cfg.mounts.filter((m) => m.kind === 'image-volume').map((m) => ({ path: m.src, mode: 0o755 })),
        ],
        spec: (document = configDocument(buildSpec({ ...cfg, name }, l, plan, { stdinOnce, hide: hiddenStorePaths(l.lowers, cfg.root) }), meta) as OciDocument),
        meta,
        // A container a monitor will run is `created` from the moment its config.json exists.
        created: !!cfg.detach,
      });
      if (cfg.usernsMaps) {
        try {
          chownVolumesForUserns(cfg);
        } catch (err) {
          removeContainerDir(l.dir);
          throw fromSystemError(err, 'state', 'cannot give the container\'s volumes to its user namespace\'s root');
        }
      }
    });
    try {
      // The container's volumes are made (when missing) and its record written under the volume store's lock.
      await withContainerVolumes(cfg.root, containerVolumes(cfg), cfg.id, cfg.rm, () => claim());
    } catch (err) {
      if (err instanceof PockerError) throw err;
      throw fromSystemError(err, 'state', `cannot create the container directory ${l.dir}`);
    }
    faultPoint('after-dir');
    recordEvent(named.root, 'container', 'create', named.id, eventAttributes(named));
    return { cfg: named, l, document };
  };
  if (resolved.rootfs.kind === 'host') return create(resolved, ['/'], { host: true });
  if (resolved.rootfs.kind === 'dir') return create(resolved, [resolved.rootfs.path], { rootfs: resolved.rootfs.path });
  const { imageForRun } = await import('../image/resolve.js');
  let prepared: Prepared | undefined;
  const reference = resolved.rootfs.reference;
  await imageForRun(reference, {
    root: resolved.root,
    ...(options.pull ? { pull: options.pull } : {}),
    ...(options.insecureRegistries ? { insecureRegistries: options.insecureRegistries } : {}),
    ...(options.onPull ? { onPullEvent: options.onPull } : {}),
    claim: async (image) => {
      if (image.layers.length === 0) throw new PockerError(`image ${reference} has no layers`, { code: 'ERR_POCKER_INVALID', step: 'image' });
      const cfg = applyImageDefaults(resolved, options, image.defaults);
      // The image's ExposedPorts: published with -P, listed (as null) in NetworkSettings.Ports either way.
      if (image.exposedPorts?.length) cfg.exposed = exposedPorts({ ExposedPorts: Object.fromEntries(image.exposedPorts.map((p) => [p, {}])) });
      prepared = await create(withImageVolumes(cfg, image.volumes), [...image.layers].reverse(), { name: image.name, id: image.id, layers: image.layers }, image.stopSignal);
    },
  });
  return prepared!;
}

/**
 * The exit status a running detached container's monitor sends its attach clients (output is read
 * and dropped, so the monitor never drops us as a slow client); null when it ends without one or
 * cannot be reached. For `--rm` containers: the monitor tells its clients before it removes the
 * directory (and records the end before it stops taking clients).
 */
export async function exitFromMonitor(dir: string, tty: boolean): Promise<ExitStatus | null> {
  let a;
  try {
    a = await attachDir(dir, { stdin: false, tty });
  } catch {
    return null; // gone already: its record (while it lasts) says how it ended
  }
  a.stdout.resume();
  a.stderr?.resume();
  return a.exited;
}

/** Waits until a detached container has exited (its state; woken by its monitor's exit, polled as
 * the bound). With `rm` its directory goes away instead: the status is then the monitor's
 * (exitFromMonitor), else unknown (exitCode -1). */
async function waitDetached(dir: string): Promise<ExitStatus> {
  let run: StoredRun | undefined;
  try {
    run = readConfig(dir)?.meta.run;
  } catch {
    /* unreadable: polled below */
  }
  if (run?.config.rm) {
    const monitor = effectiveState(dir).state;
    const told = await exitFromMonitor(dir, !!run.config.tty);
    if (told) {
      // As before: wait() resolves once the monitor has removed the container (right after it told us).
      // The monitor removes it, then ends: once it has ended, nothing else will.
      for (let i = 0; i < 1000 && existsSync(dir); i++) if (await processEnd(monitor?.monitorPid ?? 0, monitor?.monitorStart, 10)) break;
      return told;
    }
  }
  for (;;) {
    // A monitor that died without recording the end counts as exited (137), never as running.
    const { state } = effectiveState(dir);
    if (state?.status === 'exited') {
      return { exitCode: state.exitCode, signal: state.signal ? (signalName(state.signal)) : null, oomKilled: state.oomKilled };
    }
    if (!existsSync(dir)) return { exitCode: -1, signal: null, oomKilled: false };
    await processEnd(state?.monitorPid ?? 0, state?.monitorStart, 100);
  }
}

interface StdioPlan {
  /**
   * fds handed to pocker-init (0, 1, 2). Never the container's own: a foreground monitor gives the
   * container pipes and relays them to these (only /dev/null is passed as it is), so 'inherit' or
   * a caller's fd cannot be reopened from inside through /proc/self/fd (cpp/init/relay.h).
   */
  child: [number, number, number];
  /** Our ends of pipes, by stream index. */
  parent: [number | null, number | null, number | null];
  /** fds we opened and close right after spawn. */
  closeAfterSpawn: number[];
}

function planStdio(opts: Pick<RunOptions, 'stdio'>, cfg: LaunchConfig): StdioPlan {
  const given = opts.stdio;
  const pick = (i: number): StdioOption => {
    if (Array.isArray(given)) return given[i] ?? 'pipe';
    return given ?? 'pipe';
  };
  let modes: StdioOption[] = [pick(0), pick(1), pick(2)];
  if (!cfg.interactive && modes[0] === 'pipe') modes[0] = 'ignore';
  // With a tty the container's stdio is the pty; pocker-init gets /dev/null.
  if (cfg.tty || cfg.detach) modes = ['ignore', 'ignore', 'ignore'];
  const plan: StdioPlan = { child: [0, 1, 2], parent: [null, null, null], closeAfterSpawn: [] };
  const addon = native();
  modes.forEach((mode, i) => {
    if (mode === 'inherit') plan.child[i] = i;
    else if (typeof mode === 'number') plan.child[i] = mode;
    else if (mode === 'ignore') {
      const fd = openSync('/dev/null', i === 0 ? 'r' : 'w');
      plan.child[i] = fd;
      plan.closeAfterSpawn.push(fd);
    } else {
      const [r, w] = addon.pipe();
      plan.child[i] = i === 0 ? r : w;
      plan.parent[i] = i === 0 ? w : r;
      plan.closeAfterSpawn.push(plan.child[i]);
    }
  });
  return plan;
}

function closeQuietly(fds: Array<number | null>): void {
  for (const fd of fds) {
    if (fd === null) continue;
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
  }
}

/** Turns pocker-init's `{errno, step, syscall, path}` report into a PockerError. */
/** A `user` step's message (pocker-init sends the file in `path`, as every step does). Docker's words. */
function userStepMessage(ev: Extract<NativeEvent, { type: 'error' }>, user: string | undefined, code: string): string {
  const colon = user?.indexOf(':') ?? -1;
  const name = user === undefined ? '' : colon === -1 ? user : user.slice(0, colon);
  const group = user === undefined || colon === -1 ? '' : user.slice(colon + 1);
  if (ev.syscall === 'getpwnam') return `unable to find user ${name}: no matching entries in passwd file`;
  if (ev.syscall === 'getgrnam') return `unable to find group ${group}: no matching entries in group file`;
  if (code === 'EINVAL' && ev.syscall === 'fstatfs') return `${ev.path} is a kernel file, not the image's`;
  if (code === 'EINVAL' && ev.syscall === 'open') return `${ev.path} is not a regular file`;
  return `container setup failed at user: ${code} (${ev.syscall} ${ev.path})`;
}

function setupError(ev: Extract<NativeEvent, { type: 'error' }>, cfg: Pick<LaunchConfig, 'args' | 'user'>): PockerError {
  const errno = Math.abs(ev.errno);
  const code = ev.code || errnoName(errno);
  let message: string;
  if (ev.step === 'exec') {
    message =
      code === 'ENOENT'
        ? `exec: "${cfg.args[0]}": executable file not found in $PATH`
        : `exec: "${cfg.args[0]}": ${code === 'EACCES' ? 'permission denied' : code}`;
  } else if (ev.step === 'user') {
    message = userStepMessage(ev, cfg.user, code);
  } else {
    message = `container setup failed at ${ev.step}: ${code} (${ev.syscall}${ev.path ? ` ${ev.path}` : ''})${kernelHint(code, ev.syscall)}`;
  }
  return new PockerError(message, { code, errno, syscall: ev.syscall, path: ev.path, step: ev.step });
}

export class RunningContainer implements Container {
  readonly id: string;
  readonly name: string;
  pid = 0;
  stdin: Writable | null = null;
  stdout: Readable | null = null;
  stderr: Readable | null = null;
  private ptyFd = -1;
  private exit: ExitStatus | null = null;
  private done: Promise<ExitStatus>;
  private resolveDone!: (s: ExitStatus) => void;
  private monitor: NativeMonitor | null = null;

  constructor(cfg: Pick<ResolvedRunConfig, 'id' | 'name'>) {
    this.id = cfg.id;
    this.name = cfg.name;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  attach(monitor: NativeMonitor): void {
    this.monitor = monitor;
  }

  setPty(tty: typeof import('node:tty'), fd: number, interactive: boolean): void {
    this.ptyFd = fd;
    const stream = new tty.ReadStream(fd);
    // When the container's side of the pty closes, reads fail with EIO: that is the end of output.
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EIO') stream.emit('pocker-error', err);
      stream.push(null);
    });
    this.stdout = stream;
    if (interactive) this.stdin = stream;
  }

  onExit(status: ExitStatus): void {
    this.exit = status;
  }

  finish(reaped: { status: number; signal: number }, cleanup: () => void | Promise<void>): void {
    let status = this.exit;
    if (!status) {
      // The monitor itself died (e.g. SIGKILL): the container died with it (PDEATHSIG).
      const sig = reaped.signal || 0;
      status = sig
        ? { exitCode: 128 + sig, signal: signalName(sig), oomKilled: false }
        : { exitCode: reaped.status < 0 ? 125 : reaped.status, signal: null, oomKilled: false };
    }
    this.monitor = null;
    const done = status;
    void Promise.resolve()
      .then(cleanup)
      .catch(() => undefined)
      .then(() => this.resolveDone(done));
  }

  wait(): Promise<ExitStatus> {
    const dir = this.stateDir;
    if (!dir) return this.done;
    // Attached: the monitor tells how the container ended (also with --rm, whose state goes away).
    if (this.attachment) return this.attachment.exited.then((s) => s ?? waitDetached(dir));
    return waitDetached(dir);
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): void {
    const n = signalNumber(signal);
    if (!this.stateDir) {
      this.monitor?.kill(n);
      return;
    }
    const { state } = effectiveState(this.stateDir);
    if (state && state.status === 'running') signalDetached(state, n);
  }

  /** Set for a detached container: its state lives in containers/<id>/state.json. */
  stateDir: string | null = null;
  private attachment: Attachment | null = null;

  detached(stateDir: string): void {
    this.stateDir = stateDir;
    this.monitor = null;
  }

  /**
   * exec -d: the process outlives the caller; wait() resolves at its end (a pidfd watch of the
   * process with the start time it has now: a pid reused later is not it). Its status is not
   * known here.
   */
  detachedProcess(): void {
    this.monitor = null;
    const pid = this.pid;
    const start = Number(procStat(pid)?.start ?? 0);
    this.done = (async () => {
      while (!(await processEnd(pid, start, 60_000))) {
        // still running: watch on
      }
      return { exitCode: -1, signal: null, oomKilled: false };
    })();
  }

  /** A detached container's stdio, served by its monitor (start -a, attach). */
  useAttachment(a: Attachment): void {
    this.attachment = a;
    this.stdin = a.stdin;
    this.stdout = a.stdout;
    this.stderr = a.stderr;
  }

  /** Ends the attachment (if any); the detached container goes on. */
  detach(): void {
    this.attachment?.detach();
  }

  resize(rows: number, cols: number): void {
    if (this.attachment) return this.attachment.resize(rows, cols);
    if (this.ptyFd < 0 || !this.monitor) return;
    native().setWinsize(this.ptyFd, rows, cols);
  }
}

/** What launch() needs of a resolved config (run's, or exec's). */
export type LaunchConfig = Pick<ResolvedRunConfig, 'id' | 'name' | 'args' | 'tty' | 'interactive' | 'detach'> & {
  /** Docker's `user[:group]` the workload runs as (names a user or group a setup error could not find). */
  user?: string;
};

/**
 * Starts pocker-init on an encoded spec and resolves with the handle once the workload has been
 * exec'd (or rejects with the setup error, after `cleanup`). Shared by run() and exec().
 */
export async function launch(
  spec: Buffer,
  cfg: LaunchConfig,
  options: Pick<RunOptions, 'stdio'>,
  cleanup: () => void | Promise<void>,
  detachedDir: string | null,
  attach?: number,
): Promise<RunningContainer> {
  let stdio: StdioPlan;
  try {
    stdio = planStdio(options, cfg);
  } catch (err) {
    await cleanup();
    throw fromSystemError(err, 'stdio', 'cannot set up stdio');
  }

  // node:net and node:tty are loaded only when used: most CLI runs hand their own fds over.
  const net = stdio.parent.some((fd) => fd !== null) ? await import('node:net') : null;
  const tty = cfg.tty ? await import('node:tty') : null;
  const container = new RunningContainer(cfg);
  return new Promise<RunningContainer>((resolve, reject) => {
    let started = false;
    let failure: PockerError | null = null;
    let ptyFd = -1;
    const attachStreams = () => {
      if (ptyFd >= 0 && tty) container.setPty(tty, ptyFd, cfg.interactive);
      const Socket = net?.Socket;
      if (!Socket) return;
      const [inFd, outFd, errFd] = stdio.parent;
      if (inFd !== null) container.stdin = new Socket({ fd: inFd, readable: false, writable: true });
      if (outFd !== null) container.stdout = new Socket({ fd: outFd, readable: true, writable: false });
      if (errFd !== null) container.stderr = new Socket({ fd: errFd, readable: true, writable: false });
    };
    const onEvent = (ev: NativeEvent) => {
      switch (ev.type) {
        case 'pid':
          container.pid = ev.pid;
          break;
        case 'pty':
          ptyFd = ev.fd;
          break;
        case 'started':
          started = true;
          // The streams are made in the same tick as the promise resolves, so the caller's
          // listeners are attached before any end-of-file can be read: a workload that exits at
          // once must not end its (empty) streams before anyone could listen.
          attachStreams();
          // Detached: from here on the container is its monitor's (state.json), not this process's.
          if (detachedDir) container.detached(detachedDir);
          resolve(container);
          faultPoint('after-started');
          break;
        case 'error':
          failure = setupError(ev, cfg);
          break;
        case 'exit':
          container.onExit({ exitCode: ev.exitCode, signal: ev.signal ? (signalName(ev.signal)) : null, oomKilled: ev.oomKilled });
          break;
        case 'reaped':
          if (!started) {
            closeQuietly(stdio.parent);
            if (ptyFd >= 0) closeQuietly([ptyFd]);
            const why =
              failure ??
              new PockerError(`pocker-init ended before the container started (status ${ev.status}, signal ${ev.signal})`, {
                code: 'ERR_POCKER_INIT',
                step: 'spawn',
              });
            void Promise.resolve()
              .then(cleanup)
              .catch(() => undefined)
              .then(() => reject(why));
          } else if (!detachedDir) {
            container.finish(ev, cleanup);
          } // (detached: the process we started has handed the container to its own monitor and left)
          break;
      }
    };
    let monitor: NativeMonitor;
    try {
      monitor = native().spawn({ spec, stdio: stdio.child, ...(attach !== undefined ? { attach } : {}), onEvent });
    } catch (err) {
      closeQuietly(stdio.closeAfterSpawn);
      closeQuietly(stdio.parent);
      const why = fromSystemError(err, 'spawn', 'cannot start pocker-init');
      void Promise.resolve()
        .then(cleanup)
        .catch(() => undefined)
        .then(() => reject(why));
      return;
    }
    faultPoint('after-spawn');
    closeQuietly(stdio.closeAfterSpawn);
    container.attach(monitor);
  });
}

/**
 * Rootless (not root): what a user cannot have is refused before anything is made, and the
 * container gets a user namespace with the caller's maps (lib/rootless), recorded as --uidmap's are.
 */
function checkRoot(resolved: ResolvedRunConfig): void {
  if (!isRootless()) return;
  checkRootless(resolved);
  const maps = callerIdMaps();
  resolved.usernsMaps = { mode: 'map', uidMappings: maps.uidMappings, gidMappings: maps.gidMappings };
}

/**
 * The container's cgroups: as asked as root; rootless, none without limits, else under the
 * caller's delegated subtree (which becomes `cfg.cgroupParent`), or the clear error.
 */
function cgroupPlanFor(info: CgroupInfo, cfg: ResolvedRunConfig): CgroupPlan {
  if (!isRootless()) return planCgroups(info, cfg.cgroupParent, cfg.id, cfg.resources);
  const { plan, parent } = rootlessCgroupPlan(info, cfg);
  if (parent !== undefined) cfg.cgroupParent = parent;
  return plan;
}

/**
 * The document of a start (buildSpec). A rootless container without a cgroup of its own (no limit,
 * lib/rootless) gets no /sys/fs/cgroup view: there is no leaf of its to show, and a user namespace
 * cannot mount the host's hierarchies (its sysfs shows an empty directory there).
 */
const buildSpec: typeof buildFullSpec = (cfg, l, plan, opts) => {
  const doc = buildFullSpec(cfg, l, plan, opts);
  // (A user-mode network's plan, pasta or slirp4netns with its ports, is put in by startNetwork,
  // which every start runs once the host ports are allocated.)
  if (!isRootless()) return doc;
  if (plan.leafDirs.length === 0) doc.mounts = (doc.mounts ?? []).filter((m) => m.type !== 'cgroup');
  // Only the caller's own gid mapped (no subgid range): the tty group (5) does not exist in the
  // namespace, and devpts refuses a gid= it cannot map. The ptys then belong to the container's root.
  const gids = cfg.usernsMaps?.gidMappings ?? [];
  if (!gids.some((m) => 5 >= m.containerID && 5 < m.containerID + m.size)) {
    doc.mounts = (doc.mounts ?? []).map((m) => (m.type === 'devpts' ? { ...m, options: (m.options ?? []).filter((o) => o !== 'gid=5') } : m));
  }
  return doc;
};

function checkPull(options: RunOptions): void {
  if (options.pull !== undefined && !['missing', 'always', 'never'].includes(options.pull)) {
    throw new PockerError(`invalid pull policy ${JSON.stringify(options.pull)}: must be missing, always or never`, { code: 'ERR_POCKER_INVALID', step: 'validate' });
  }
}

/**
 * Starts a container and resolves once its workload has been exec'd (or rejects with a
 * PockerError naming the failed `step`: `validate`, `cgroup`, `spawn`, `mount-rootfs`, `exec`, …).
 * Nothing is left behind on failure. With `detach` this is create() then start(), and the handle is
 * start()'s DetachedContainer (typed so when `detach: true` is written as a literal).
 */
export function run(options: RunOptions & { detach: true }): Promise<DetachedContainer>;
export function run(options: RunOptions): Promise<Container>;
export async function run(options: RunOptions): Promise<Container> {
  checkPull(options);
  const resolved = resolveRunOptions(options);
  checkRoot(resolved);
  if (resolved.networks) checkNetworkRequests(resolved.root, resolved.networks);
  const info = detectCgroups();
  const plan = cgroupPlanFor(info, resolved);
  // Everything is validated above; an image may still have to be pulled (no kernel object yet).
  const { cfg, l, document } = await prepare(resolved, options, plan);
  if (cfg.detach) return startEntry({ id: cfg.id, name: cfg.name, dir: l.dir, logPath: logPathOf(l.dir, cfg.id) }, { removeOnFailure: true });
  const addon = native();
  const removeDir = () => {
    removeContainerDir(l.dir);
    releaseName(cfg.root, cfg.name, cfg.id);
    recordEvent(cfg.root, 'container', 'destroy', cfg.id, eventAttributes(cfg));
    removeRunVolumes(cfg);
  };
  try {
    if (plan.leafDirs.length) createCgroups(plan, cfg.resources, addon, info, cfg.cgroupParent, isRootless() ? prepareDelegated(info, cfg.cgroupParent) : undefined);
  } catch (err) {
    removeDir();
    throw err instanceof PockerError ? err : fromSystemError(err, 'cgroup', 'cannot create the container cgroup');
  }
  faultPoint('after-cgroups');
  let netMade = false;
  const cleanup = async () => {
    try {
      removeCgroups(plan, addon);
    } catch {
      /* the monitor normally removed them already */
    }
    if (netMade) await releaseContainerNetwork(cfg.root, cfg.id, { dirGoing: true }).catch(() => undefined);
    removeDir();
  };
  try {
    netMade = await startNetwork(cfg, cfg.name, document);
  } catch (err) {
    netMade = true;
    await cleanup();
    throw err;
  }
  faultPoint('after-network');

  const c = await launch(Buffer.from(JSON.stringify(document)), cfg, options, cleanup, null);
  // No networkStarted() (settling the leases, a write of each network's endpoints.json): a
  // foreground container's leases stay held by this process, which is also the container's owner
  // and gives them back when it ends (cleanup above); should this process die, the container dies
  // with it and the leases are reconciled away like those of any dead allocator. Only a detached
  // container outlives the process that started it (startEntry settles).
  // Its `start` event is the monitor's (pocker.monitor.events), recorded before its `die`.
  return c;
}

/** What create() made. */
export interface CreatedContainer {
  id: string;
  name: string;
}

/**
 * Creates a container without starting it (`pocker create`): validates, resolves (or pulls) the
 * image, claims the name, lays out its directory and records everything start() needs. It is
 * `created` until started; a monitor runs it then, as for `detach` (`stdio` does not apply; attach
 * to it with start({ attach: true }) or attach()). With `interactive`, the first attached client's
 * end of input closes its stdin (Docker's StdinOnce).
 */
export async function create(options: RunOptions): Promise<CreatedContainer> {
  checkPull(options);
  const resolved = resolveRunOptions({ ...options, detach: true });
  checkRoot(resolved);
  if (resolved.networks) checkNetworkRequests(resolved.root, resolved.networks);
  const plan = cgroupPlanFor(detectCgroups(), resolved);
  const { cfg } = await prepare(resolved, options, plan, resolved.interactive);
  return { id: cfg.id, name: cfg.name };
}

/** The handle of a container its own monitor runs (start(), attach()). */
export interface DetachedContainer extends Container {
  /** Ends the attachment, if any (the container goes on). */
  detach(): void;
}

/** Options of start() and attach(). */
export interface StartOptions {
  /** State directory (default /var/lib/pocker, or POCKER_ROOT). */
  root?: string;
  /**
   * Attach to the container's stdio (`start -a`): the handle's stdout/stderr (and stdin, for a
   * container created with `interactive`) are the container's, from its very first byte, and
   * wait() gives its exit status.
   */
  attach?: boolean;
}

/** The handle of a detached container that is already running (pid and state from state.json). */
function runningHandle(c: ListedContainer): RunningContainer {
  const h = new RunningContainer({ id: c.id, name: c.name });
  h.pid = c.state?.pid ?? 0;
  h.detached(c.dir);
  return h;
}

async function attachTo(h: RunningContainer, dir: string, run: StoredRun | undefined): Promise<RunningContainer> {
  const a = await attachDir(dir, { stdin: !!run?.config.interactive, tty: !!run?.config.tty });
  h.useAttachment(a);
  return h;
}

/**
 * Starts a created (or exited) container (`pocker start`): its monitor runs it detached, as
 * run({ detach: true }) does; the handle is that of a detached container. A running container is
 * left as it is. Throws `ERR_POCKER_NOT_FOUND`, or `ERR_POCKER_FOREGROUND` for a container that a
 * foreground `pocker run` owns; a setup failure leaves the container as it was (not started).
 */
export async function start(ref: string, options: StartOptions = {}): Promise<DetachedContainer> {
  return startEntry(findContainer(stateRoot(options), ref), { attach: !!options.attach });
}

async function startEntry(entry: ContainerEntry, opts: { attach?: boolean; removeOnFailure?: boolean }): Promise<DetachedContainer> {
  return withContainerLock(entry.dir, async () => {
    const c = describeContainer(entry);
    if (c.damaged) throw new PockerError(`cannot start container ${c.name}: its record is damaged (${c.damaged}): remove it with pocker rm -f`, { code: 'ERR_POCKER_STORE_CORRUPT', step: 'start' });
    const stored = c.config?.run;
    if (!stored) {
      if (c.state) {
        throw new PockerError(`cannot start container ${c.name}: it was made by an older pocker, which did not record its configuration`, { code: 'ERR_POCKER_INVALID', step: 'start' });
      }
      throw new PockerError(`cannot start container ${c.name}: it runs in the foreground of a pocker run`, { code: 'ERR_POCKER_FOREGROUND', step: 'start' });
    }
    if (c.status === 'running') return opts.attach ? attachTo(runningHandle(c), c.dir, stored) : runningHandle(c);
    const cfg: ResolvedRunConfig = resolveForStart({ ...stored.config, caps: BigInt(stored.config.caps) }, stored.layout.lowers);
    const l: Layout = { dir: entry.dir, ...stored.layout };
    const info = detectCgroups();
    const plan = cgroupPlanFor(info, cfg);
    const addon = native();
    const removeDir = () => {
      removeContainerDir(l.dir);
      releaseName(cfg.root, c.name, cfg.id);
      recordEvent(cfg.root, 'container', 'destroy', cfg.id, eventAttributes({ ...cfg, name: c.name }));
    };
    // `start -a`'s connection to the monitor, made before any kernel object (it can fail: fds).
    let pair: [number, number] | null;
    try {
      pair = opts.attach ? addon.socketpair() : null;
    } catch (err) {
      if (opts.removeOnFailure) removeDir();
      throw fromSystemError(err, 'attach', 'cannot make the attach connection');
    }
    // Leftovers of a start killed before its monitor took over (no monitor runs this container).
    for (const dir of plan.leafDirs) addon.cgroupRemove(dir);
    try {
      if (plan.leafDirs.length) createCgroups(plan, cfg.resources, addon, info, cfg.cgroupParent, isRootless() ? prepareDelegated(info, cfg.cgroupParent) : undefined);
    } catch (err) {
      if (pair) closeQuietly(pair);
      if (opts.removeOnFailure) removeDir();
      throw err instanceof PockerError ? err : fromSystemError(err, 'cgroup', 'cannot create the container cgroup');
    }
    faultPoint('after-cgroups');
    // `stop` marked it stopped for its restart policy: a start makes the policy apply again.
    clearStopRequested(l.dir);
    let netMade = false;
    const cleanup = async () => {
      try {
        removeCgroups(plan, addon);
      } catch {
        /* the monitor normally removed them already */
      }
      if (netMade) await releaseContainerNetwork(cfg.root, cfg.id).catch(() => undefined);
      if (opts.removeOnFailure) removeDir();
    };
    // A detached monitor outlives this process: share the image other monitors already run.
    addon.shareInit(runningMonitorPids(cfg.root));
    let handle: RunningContainer;
    try {
      // config.json becomes the document this run of the container is handed.
      const document = configDocument(buildSpec({ ...cfg, name: c.name, detach: true }, l, plan, { stdinOnce: stored.stdinOnce, attachFd: !!pair, hide: hiddenStorePaths(l.lowers, cfg.root) }), c.config!) as OciDocument;
      try {
        netMade = await startNetwork(cfg, c.name, document);
      } catch (err) {
        netMade = true;
        await cleanup();
        throw err;
      }
      faultPoint('after-network');
      writeConfig(l.dir, document, c.config!);
      const spec = Buffer.from(JSON.stringify(document));
      handle = await launch(spec, { ...cfg, name: c.name, detach: true }, { stdio: 'ignore' }, cleanup, l.dir, pair?.[1]);
    } catch (err) {
      if (pair) closeQuietly([pair[0]]);
      throw err;
    } finally {
      // The monitor has its own copy (fd 5).
      if (pair) closeQuietly([pair[1]]);
    }
    if (netMade) networkStarted(cfg.root, cfg.id);
    // (Its `start` event is the monitor's, as for run().)
    if (pair) handle.useAttachment(await attachFd(pair[0], { stdin: cfg.interactive, tty: cfg.tty }));
    return handle;
  });
}

/**
 * Attaches to a running detached container's stdio (`pocker attach`): the handle's streams are the
 * container's from now on (stdin only for a container started with `interactive`), wait() gives
 * its exit status, and detach() ends the attachment without stopping it. Throws
 * `ERR_POCKER_NOT_RUNNING` for a container that is not running, `ERR_POCKER_FOREGROUND` for one a
 * foreground `pocker run` owns.
 */
export async function attach(ref: string, options: Omit<StartOptions, 'attach'> = {}): Promise<DetachedContainer> {
  const c = describeContainer(findContainer(stateRoot(options), ref));
  if (c.status !== 'running') {
    throw new PockerError(`You cannot attach to a stopped container, start it first`, { code: 'ERR_POCKER_NOT_RUNNING', step: 'attach' });
  }
  if (!c.config?.run) {
    throw new PockerError(`cannot attach to container ${c.name}: it runs in the foreground of a pocker run, which owns its stdio`, { code: 'ERR_POCKER_FOREGROUND', step: 'attach' });
  }
  return attachTo(runningHandle(c), c.dir, c.config.run);
}
