// pocker's public API.
export { run, signalNumber } from './runtime/run.js';
export { exec, type ExecOptions } from './runtime/exec.js';
export { PockerError } from './errors.js';
export { pull, type PullOptions, type PullResult } from './image/pull.js';
export type {
  Container,
  ExitStatus,
  PockerErrorShape,
  PullProgress,
  RunOptions,
  SetupStep,
  StdioOption,
  TmpfsSpec,
  VolumeSpec,
} from './types.js';
