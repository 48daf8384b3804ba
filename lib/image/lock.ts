// File locks for the image store: implemented once, in lib/fsutil.ts (flock through the native
// addon, polled without ever blocking the event loop, with a timeout); re-exported here for the
// image store's modules and their tests.
export { DEFAULT_LOCK_TIMEOUT_MS, flockAvailable, nativeFlock, tryFlock, withFileLock, type FlockFn, type LockOptions } from '../fsutil.js';

import { PockerError } from '../errors.js';

/** A lock on a file this process just created (O_EXCL) is held by someone else: EAGAIN, as flock says. */
export function lockedBySomeoneElse(path: string): PockerError {
  return new PockerError(`${path} is locked by someone else`, { code: 'EAGAIN', syscall: 'flock', step: 'store', path });
}
