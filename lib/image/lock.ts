// File locks for the image store: implemented once, in lib/fsutil.ts (flock through the native
// addon, polled without ever blocking the event loop, with a timeout); re-exported here for the
// image store's modules and their tests.
export { DEFAULT_LOCK_TIMEOUT_MS, flockAvailable, nativeFlock, tryFlock, withFileLock, type FlockFn, type LockOptions } from '../fsutil.js';
