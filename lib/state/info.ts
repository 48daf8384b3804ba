// What the library reports of a container in lists (`ps`): data only; the CLI (lib/cli/format.ts)
// makes the display text.

/**
 * A container's status: `created` (by create, not started yet), `running` (or between two runs of
 * a restart policy: `restarting`; frozen by `pause`: `paused`), `exited` (ended, or its monitor or
 * creator died), or `dead` (its records are damaged: nothing is known of its run; rm and prune
 * remove it).
 */
export type ContainerStatusName = 'created' | 'running' | 'restarting' | 'paused' | 'exited' | 'dead';

/** One container, as `pocker ps` lists it. */
export interface ContainerInfo {
  /** The full id (64 hex digits); `id.slice(0, 12)` is the short form. */
  id: string;
  name: string;
  /** The image as Docker shows it: its stored name (else id), `host`, or the rootfs path. */
  image: string;
  /** The image's id (`sha256:…`), or '' for `host` and rootfs containers. */
  imageId: string;
  /** The command line (entrypoint and command), untruncated. */
  command: string;
  /** The command line as arguments. */
  args: string[];
  /** When the container was created (ISO 8601), or '' when unknown (its creator died early). */
  created: string;
  /** Docker's `State` (the Engine API's ContainerSummary.State, `ps --format '{{.State}}'`). */
  state: ContainerStatusName;
  /** Docker's `Status` text: `Up 5 seconds`, `Exited (0) 2 minutes ago`, `Restarting (1) …`. */
  status: string;
  /** Host pid of the container's first process (0 unless running). */
  pid: number;
  /** The exit code once exited (128+N when killed by signal N), else null. */
  exitCode: number | null;
  oomKilled: boolean;
  /** How often its monitor has restarted it (--restart). */
  restartCount: number;
  /** True when a `pocker run` in the foreground owns it (no monitor: stop/kill/rm -f refuse). */
  foreground: boolean;
  /** When it started (ISO 8601), or ''. */
  startedAt: string;
  /** When it ended (ISO 8601), or '' unless exited. */
  finishedAt: string;
  /** The json-file log ('' for a foreground container). */
  logPath: string;
  /** Its labels (`run --label`); absent in lists made before labels existed. */
  labels?: Record<string, string>;
  /**
   * Bytes in the container's writable layer (its files' sizes, as Docker's SizeRw): only when
   * listContainers() was asked for `size`. A `host` container's writable layer is a tmpfs inside
   * the container and counts as 0.
   */
  sizeRw?: number;
  /**
   * The writable layer plus the image's layers (Docker's SizeRootFs, the "virtual" size), or 0 when
   * unknown (`host`, and a `--rootfs` directory that contains the state root): only with `size`.
   */
  sizeRootFs?: number;
}

