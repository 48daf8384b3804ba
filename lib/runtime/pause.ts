// pauseContainer() / unpauseContainer(): Docker's `pause` and `unpause` through the cgroup freezer
// (lib/cgroup/freezer.ts). A paused container stays `running` (State.Paused, "Up … (Paused)").
import { PockerError } from '../errors.js';
import { setFrozen } from '../cgroup/freezer.js';
import { lookupContainer, stateRoot } from '../container/index.js';
import type { StateOptions } from '../state/api.js';
import { containerEventAttributes, recordEvent } from '../state/events.js';

async function setPaused(ref: string, options: StateOptions, paused: boolean): Promise<void> {
  const root = stateRoot(options);
  const c = lookupContainer(root, ref);
  if (c.status !== 'running' || c.state?.restarting) {
    throw new PockerError(`Container ${c.id} is not running`, { code: 'ERR_POCKER_NOT_RUNNING', step: 'validate' });
  }
  if (!!c.paused === paused) {
    throw new PockerError(paused ? `Container ${c.id} is already paused` : `Container ${c.id} is not paused`, { code: 'ERR_POCKER_CONFLICT', step: 'validate' });
  }
  await setFrozen(c.config?.cgroups ?? [], paused, `container ${c.name}`);
  recordEvent(root, 'container', paused ? 'pause' : 'unpause', c.id, containerEventAttributes(c));
}

/** Freezes every process of a running container (Docker's `pause`). */
export function pauseContainer(ref: string, options: StateOptions = {}): Promise<void> {
  return setPaused(ref, options, true);
}

/** Thaws a paused container (Docker's `unpause`). */
export function unpauseContainer(ref: string, options: StateOptions = {}): Promise<void> {
  return setPaused(ref, options, false);
}
