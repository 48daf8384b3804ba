// pocker's public API.
export { attach, create, run, signalNumber, start, type CreatedContainer, type DetachedContainer, type StartOptions } from './runtime/run.js';
export { exec, type ExecOptions } from './runtime/exec.js';
export { PockerError } from './errors.js';
export { pull, type PullOptions, type PullResult } from './image/pull.js';
export {
  containerLogs,
  containerStats,
  containerTop,
  containerTopTable,
  followLogs,
  inspectContainer,
  killContainer,
  listContainers,
  pruneContainers,
  removeContainer,
  renameContainer,
  restartContainer,
  stopContainer,
  waitContainer,
  type ContainerDetails,
  type ContainerFilters,
  type ContainerInfo,
  type ContainerStats,
  type ContainerStatusFilter,
  type ContainerStatusName,
  type KillOptions,
  type ListOptions,
  type LogEntry,
  type LogsOptions,
  type ProcessRow,
  type PruneResult,
  type RemoveOptions,
  type StateOptions,
  type StatsOptions,
  type StopOptions,
  type TimeValue,
} from './state/api.js';
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
