// The on-disk records of a container (containers/<id>/config.json and state.json): their types,
// their version, and the migration of older records. Pure (no I/O): lib/container/store.ts reads
// and writes the files, the unit tests drive these functions with fixtures.
//
// config.json (version 2) is an OCI runtime-spec document (what pocker-init consumes; built by
// lib/spec, opaque here) plus one top-level `pocker` object:
//   { "ociVersion": "1.2.0", "process": …, "root": …, "mounts": …, "linux": …,
//     "pocker": { "version": 2, …runtime fields lib/spec defines…, "container": ContainerMeta } }
// state.json (version 2): ContainerState with `"version": 2` first; written by the store (`created`)
// and by the container's monitor (cpp/init/monitor.cpp).
//
// Version 1 is what pocker wrote before records had a version: config.json was the ContainerMeta
// itself (`{id, name, created, args, image, cgroups, owner?, process, stopSignal?, run?}`), and
// state.json had the same fields as now. Both are migrated on read. A version newer than
// RECORD_VERSION is refused (RecordVersionError), never guessed at.
import type { Spec } from '../spec/oci.js';
import { PockerError } from '../errors.js';
import type { ResolvedRunConfig } from '../runtime/options.js';

/** The version of the records this pocker writes, and the newest it reads. */
export const RECORD_VERSION = 2;

/**
 * An OCI runtime-spec document (opencontainers/runtime-spec v1.2 config.json). Its type is
 * lib/spec's; the store only passes it through.
 */
/** The OCI part of config.json (lib/spec's document; a migrated version-1 record has only ociVersion). */
export type OciDocument = Partial<Spec<unknown>> & { ociVersion: string };

/** The resolved run configuration (caps as a hex string), the container's layers and attach mode. */
export interface StoredRun {
  config: Omit<ResolvedRunConfig, 'caps'> & { caps: string };
  layout: { lowers: string[]; scratchUpper: boolean; upper: string; work: string; rootfs: string };
  /** Docker's StdinOnce (`create -i`): the first attached client's end of input closes the container's stdin. */
  stdinOnce: boolean;
}

/** The image a container runs: its stored name, id and layer dirs; `host`; or a rootfs directory. */
export type ContainerImage = { name: string; id: string; layers: string[] } | { host: true } | { rootfs: string };

/** What the store keeps of a container (config.json's `pocker.container`). */
export interface ContainerMeta {
  id: string;
  name: string;
  created: string;
  /** The container's command line (entrypoint and command, image defaults applied). */
  args: string[];
  image: ContainerImage;
  /**
   * The cgroup handle: the container's cgroup dirs as lib/cgroup planned them (one per v1
   * hierarchy, or the v2 leaf). stats, top, exec, export and rm use them.
   */
  cgroups: string[];
  /** The cgroup parent the dirs are under (`pocker` unless --cgroup-parent). */
  cgroupParent?: string;
  /**
   * The process that created the container (pid and /proc start time): until the monitor writes
   * state.json it owns the container, so with it dead the container is not running.
   */
  owner?: { pid: number; start: string };
  /** What `exec` gives a new process by default: the container's env, workdir, user and privileges. */
  process: { env: string[]; cwd: string; user: string; caps: string; noNewPrivs: boolean };
  /** --stop-signal, else the image's Config.StopSignal (`pocker stop` sends it; SIGTERM otherwise). */
  stopSignal?: string;
  // Issue 12 (i12-flags):
  /** --label / --label-file (inspect's Config.Labels, `ps --filter label=`). */
  labels?: Record<string, string>;
  /** --stop-timeout: seconds stop/restart wait before SIGKILL when not given one. */
  stopTimeout?: number;
  /** --ipc (`shareable` lets others join it). */
  ipcMode?: string;
  /** The volumes (names in <root>/volumes/) the container mounts: `volume rm` refuses them, `rm -v` removes the anonymous ones. */
  volumes?: string[];
  /**
   * Issue 13: the container's user namespace (`--userns auto`, `--uidmap`), its maps as recorded
   * when it was created (an `auto` range is held for as long as this record exists). Absent: the host's.
   */
  userns?: { mode: 'auto' | 'map'; uidMappings: Array<{ containerID: number; hostID: number; size: number }>; gidMappings: Array<{ containerID: number; hostID: number; size: number }> };
  /**
   * What `start` needs to run the container (again): recorded by `create` and `run -d`, whose
   * containers are run by a monitor (foreground ones end with their `pocker run`).
   */
  run?: StoredRun;
}

/** A container's config.json as the store reads it. */
export interface ContainerConfigRecord {
  /** The version it was written with (1: migrated on read). */
  version: number;
  /** The OCI document (for a migrated version 1 record: `{ ociVersion: '1.2.0' }`; start rebuilds it). */
  spec: OciDocument;
  /** config.json's `pocker` section without `version` and `container`: the runtime fields lib/spec defines. */
  runtime: Record<string, unknown>;
  meta: ContainerMeta;
}

/** A detached container's state.json (written by its monitor, and by the store while `created`). */
export interface ContainerState {
  /**
   * `restarting` is read as `running` with `restarting: true` (and `pid` 0): the monitor lives and
   * will start the container again (--restart) unless it is stopped. `created`: made by `create`
   * (or `run -d` before its start), never started.
   */
  status: 'running' | 'exited' | 'created';
  /** Between two runs of a container with a restart policy. */
  restarting?: boolean;
  /** How often the monitor has restarted the container. */
  restartCount?: number;
  pid: number;
  /** `pid`'s start time (field 22 of /proc/PID/stat; 0 or absent: not recorded, an older monitor). */
  pidStart?: number;
  monitorPid: number;
  /** `monitorPid`'s start time, as `pidStart`. */
  monitorStart?: number;
  exitCode: number;
  signal: number;
  oomKilled: boolean;
  startedAt: string;
  finishedAt: string;
}

/** A record written by a newer pocker (or not a record at all): refused, never misread. */
export class RecordVersionError extends PockerError {
  constructor(
    readonly file: 'config' | 'state',
    readonly version: unknown,
    readonly containerId: string,
  ) {
    super(
      typeof version === 'number' && Number.isInteger(version) && version > RECORD_VERSION
        ? `container ${containerId.slice(0, 12)} was written by a newer pocker (${file} version ${version}); this pocker reads up to ${RECORD_VERSION}`
        : `container ${containerId.slice(0, 12)}: ${file}.json has an invalid version ${JSON.stringify(version)}`,
      { code: 'ERR_POCKER_UNSUPPORTED', step: 'state' },
    );
    this.name = 'PockerError';
  }
}

/** A config.json or state.json that is not what any pocker wrote. */
export function corruptRecord(file: 'config' | 'state', id: string, why: string): PockerError {
  return new PockerError(`container ${id.slice(0, 12)}: ${file}.json is not a container record (${why})`, { code: 'ERR_POCKER_STORE_CORRUPT', step: 'state' });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The version of a record: missing is 1; anything else must be an integer 2..RECORD_VERSION. */
function versionOf(file: 'config' | 'state', v: unknown, id: string): number {
  if (v === undefined) return 1;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 2 || v > RECORD_VERSION) throw new RecordVersionError(file, v, id);
  return v;
}

/** Checks the fields every ContainerMeta has (version 1's top level, version 2's `pocker.container`). */
function checkMeta(m: unknown, id: string): ContainerMeta {
  if (!isObject(m)) throw corruptRecord('config', id, 'no container section');
  if (typeof m.id !== 'string' || typeof m.name !== 'string') throw corruptRecord('config', id, 'no id or name');
  if (!isObject(m.image)) throw corruptRecord('config', id, 'no image');
  const meta = m as unknown as ContainerMeta;
  return {
    ...meta,
    created: typeof m.created === 'string' ? m.created : '',
    args: Array.isArray(m.args) ? (m.args as string[]) : [],
    cgroups: Array.isArray(m.cgroups) ? (m.cgroups as string[]) : [],
    process: isObject(m.process) ? meta.process : { env: [], cwd: '/', user: '', caps: '0x0', noNewPrivs: false },
  };
}

/**
 * Reads a parsed config.json of container `id` into the current shape. Version 1 (no `version`, no
 * `pocker`: the old ContainerRecord) is migrated: its fields become `meta` (the cgroup parent taken
 * from its run options, when it has them) and its OCI part is empty (start rebuilds the spec from
 * the stored run options, as it always does). Throws RecordVersionError for a newer version, a
 * PockerError ERR_POCKER_STORE_CORRUPT for something that is no record.
 */
export function parseConfigRecord(doc: unknown, id: string): ContainerConfigRecord {
  if (!isObject(doc)) throw corruptRecord('config', id, 'not a JSON object');
  if (doc.pocker === undefined && doc.version === undefined && doc.ociVersion === undefined) {
    // Version 1: the record itself.
    const meta = checkMeta(doc, id);
    const parent = meta.run?.config.cgroupParent;
    return { version: 1, spec: { ociVersion: '1.2.0' }, runtime: {}, meta: { ...meta, ...(meta.cgroupParent === undefined && parent !== undefined ? { cgroupParent: parent } : {}) } };
  }
  const pocker = doc.pocker;
  if (!isObject(pocker)) {
    // A top-level version without a pocker section: written by something newer, or not by pocker.
    throw new RecordVersionError('config', doc.version ?? null, id);
  }
  const version = versionOf('config', pocker.version ?? null, id);
  const { pocker: _pocker, ...spec } = doc;
  const { version: _version, container, ...runtime } = pocker;
  return { version, spec: { ...spec, ociVersion: typeof spec.ociVersion === 'string' ? spec.ociVersion : '1.2.0' }, runtime, meta: checkMeta(container, id) };
}

/** The config.json document of a container: the OCI spec with the pocker section (version, runtime fields, the store's part). */
export function configDocument(spec: OciDocument, meta: ContainerMeta, runtime: Record<string, unknown> = {}): Record<string, unknown> {
  // The spec's own pocker section (overlay, monitor, cgroups: what pocker-init reads) is kept as
  // it is, so that config.json is exactly the document pocker-init was handed.
  const { pocker, ...oci } = spec as OciDocument & { pocker?: unknown };
  const section = typeof pocker === 'object' && pocker !== null && !Array.isArray(pocker) ? (pocker as Record<string, unknown>) : {};
  return { ...oci, pocker: { ...section, version: RECORD_VERSION, ...runtime, container: meta } };
}

/**
 * Reads a parsed state.json of container `id`: version 1 (no `version`) and 2 have the same
 * fields; the monitor's `restarting` status becomes `running` with `restarting: true`. Throws
 * RecordVersionError for a newer version.
 */
export function parseStateRecord(doc: unknown, id: string): ContainerState {
  if (!isObject(doc)) throw corruptRecord('state', id, 'not a JSON object');
  versionOf('state', doc.version, id);
  const { version: _v, ...fields } = doc;
  const s = fields as unknown as Omit<ContainerState, 'status'> & { status: string };
  if (s.status === 'restarting') return { ...s, status: 'running', restarting: true };
  if (s.status !== 'running' && s.status !== 'exited' && s.status !== 'created') throw corruptRecord('state', id, `status ${JSON.stringify(s.status)}`);
  return s as ContainerState;
}

/** The state.json document: `version` first, as the monitor writes it. */
export function stateDocument(state: ContainerState): Record<string, unknown> {
  return { version: RECORD_VERSION, ...state };
}
