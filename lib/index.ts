// pocker's public API.
export { run, signalNumber } from './runtime/run.js';
export { PockerError } from './errors.js';
export type {
  Container,
  ExitStatus,
  PockerErrorShape,
  RunOptions,
  SetupStep,
  StdioOption,
  TmpfsSpec,
  VolumeSpec,
} from './types.js';
