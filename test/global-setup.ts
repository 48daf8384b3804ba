// vitest globalSetup: make sure the native addon, pocker-init, dist/ (for the CLI) and busybox
// (for the busybox rootfs) exist before any test file runs.
import { ensureBuilt } from './helpers.js';

export default function setup(): void {
  ensureBuilt();
}
