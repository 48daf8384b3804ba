// exec(): runs a new process in a running (detached) container: pocker-init joins the container's
// namespaces through a pidfd and its cgroup (CLONE_INTO_CGROUP on v2, joining itself through `tasks` on v1), takes
// the container's user, environment, capabilities and no_new_privs unless told otherwise, and
// reports exactly as for run().

import { detectCgroups } from '../cgroup/index.js';
import { isFrozen } from '../cgroup/freezer.js';
import { cgroupJoinTargets } from '../cgroup/usage.js';
import { PockerError, invalid } from '../errors.js';
import { effectiveState, findContainer, readConfig, runningMonitorPids } from '../container/index.js';
import { native } from '../native.js';
import type { Container, RunOptions, StdioOption } from '../types.js';
import { resolveRunOptions } from './options.js';
import { launch } from './run.js';
import { buildExecSpec, encodeSpec, withContainerProcess } from '../spec/build.js';

/** Options of exec(); names mirror `pocker exec`'s flags. */
export interface ExecOptions {
  /** The command and its arguments (required). */
  cmd: string[];
  /** Extra environment (`KEY=VALUE` or a record), over the container's. */
  env?: string[] | Record<string, string>;
  /** Working directory (default: the container's). */
  workdir?: string;
  /** `user[:group]` (default: the container's user). */
  user?: string;
  interactive?: boolean;
  tty?: boolean;
  /**
   * Detached (`exec -d`): resolves once the command runs, which then outlives the caller (its
   * output is discarded, as Docker does); the handle's wait() resolves when it has ended, with
   * exit code -1 (unknown).
   */
  detach?: boolean;
  ttySize?: { rows: number; cols: number };
  stdio?: StdioOption | [StdioOption, StdioOption, StdioOption];
  /** State directory (default /var/lib/pocker, or POCKER_ROOT). */
  root?: string;
}

/** Runs `options.cmd` inside the running container `container` (id, id prefix or name). */
export async function exec(container: string, options: ExecOptions): Promise<Container> {
  if (!options || !Array.isArray(options.cmd) || options.cmd.length === 0) throw invalid('exec needs a command');
  // The same validation as run() for what exec shares with it (user, env, workdir, tty size).
  const checked = resolveRunOptions({
    image: 'host',
    cmd: options.cmd,
    ...(options.env !== undefined ? { env: options.env } : {}),
    ...(options.workdir !== undefined ? { workdir: options.workdir } : {}),
    ...(options.user !== undefined ? { user: options.user } : {}),
    ...(options.tty !== undefined ? { tty: options.tty } : {}),
    ...(options.interactive !== undefined ? { interactive: options.interactive } : {}),
    ...(options.ttySize !== undefined ? { ttySize: options.ttySize } : {}),
    ...(options.root !== undefined ? { root: options.root } : {}),
  } satisfies RunOptions);
  const entry = findContainer(checked.root, container);
  const { state } = effectiveState(entry.dir);
  // (pid 0: between two runs, or no longer the recorded process: effectiveState verified it.)
  if (!state || state.status !== 'running' || state.restarting || !(state.pid > 0)) {
    throw new PockerError(`container ${container} is not running`, { code: 'ERR_POCKER_NOT_RUNNING', step: 'exec' });
  }
  const record = readConfig(entry.dir);
  const config = record?.meta ?? null;
  if (!config) throw new PockerError(`container ${container} is still being set up`, { code: 'ERR_POCKER_NOT_RUNNING', step: 'exec' });
  // Docker's refusal: a frozen container could not even start the process.
  if (isFrozen(config.cgroups)) {
    throw new PockerError(`Container ${entry.id} is paused, unpause the container before exec`, { code: 'ERR_POCKER_CONFLICT', step: 'exec' });
  }
  // The container's environment, then the caller's entries (replacing by key).
  const env = new Map<string, string>();
  for (const e of [...config.process.env, ...checked.userEnv]) env.set(e.slice(0, e.indexOf('=')), e);
  const spec = encodeSpec(withContainerProcess(
    buildExecSpec({
      args: checked.args,
      env: [...env.values()],
      cwd: options.workdir !== undefined ? checked.cwd : config.process.cwd,
      user: options.user !== undefined ? checked.user : config.process.user,
      caps: BigInt(config.process.caps),
      noNewPrivs: config.process.noNewPrivs,
      tty: checked.tty,
      ...(checked.ttySize ? { ttySize: checked.ttySize } : {}),
      detach: !!options.detach,
      pid: state.pid,
      cgroups: cgroupJoinTargets(config.cgroups, detectCgroups().version),
      // The container's own filter (Docker's rule: an exec is confined like its container).
      ...(record?.spec.linux?.seccomp ? { seccomp: record.spec.linux.seccomp, root: checked.root } : {}),
    }),
    record?.spec.process,
  ));
  const detach = !!options.detach;
  const user = options.user !== undefined ? checked.user : config.process.user;
  const launchCfg = { id: config.id, name: config.name, args: checked.args, tty: checked.tty, interactive: checked.interactive && !detach, detach, user };
  // A detached exec's pocker-init outlives this process: share the image the monitors run.
  if (detach) native().shareInit(runningMonitorPids(checked.root));
  const handle = await launch(spec, launchCfg, { stdio: detach ? 'ignore' : (options.stdio ?? 'pipe') }, () => {}, null);
  if (detach) handle.detachedProcess();
  return handle;
}
