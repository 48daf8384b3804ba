// pocker's public API.
//
// The typings use Node's (streams, Buffer, NodeJS.Signals): this directive makes a consumer's compiler
// load them (the package depends on @types/node) even where `types` defaults to [] (TypeScript ≥ 5.9's
// `tsc --init`). The package is ESM; `require('pocker')` loads it through Node's require(esm) (≥ 20.19).
/// <reference types="node" preserve="true" />
export { attach, create, run, start, type CreatedContainer, type DetachedContainer, type StartOptions } from './runtime/run.js';
// Docker Engine API's names (ContainerCreate, ContainerStart; dockerode's createContainer and
// container.start) for the two calls whose pocker names are shorter: the same functions. The map of
// every other name is in the README ("For Node developers").
export { create as createContainer, start as startContainer } from './runtime/run.js';
export { exec, type ExecOptions } from './runtime/exec.js';
export { updateContainer, type UpdateOptions } from './runtime/update.js';
export { pauseContainer, unpauseContainer } from './runtime/pause.js';
export { PockerError, POCKER_ERROR_CODES, SETUP_STEPS, type PockerOwnCode } from './errors.js';
export { signalNumber } from './signals.js';
export { pull, type PullOptions, type PullResult } from './image/pull.js';
export {
  imageHistory,
  inspectImage,
  listImages,
  pruneImages,
  removeImage,
  systemDf,
  tagImage,
  type ContainerDiskUsage,
  type DiskUsageTotals,
  type ImageDiskUsage,
  type ImageHistoryItem,
  type ImageInfo,
  type ImageInspect,
  type ImageInspectConfig,
  type ImageListOptions,
  type ImagePruneOptions,
  type ImagePruneResult,
  type ImageRemoveOptions,
  type ImageRemoveResult,
  type ImageTagResult,
  type LayerDiskUsage,
  type SystemDfOptions,
  type SystemDiskUsage,
} from './image/manage.js';
export { login, logout, type LoginOptions } from './image/auth.js';
export { containerChanges, type ChangeKind, type ContainerChange } from './state/diff.js';
export { events, type EventFilters, type EventsOptions, type EventType, type PockerEvent } from './state/events.js';
export {
  containerLogs,
  containerStats,
  containerTop,
  containerTopTable,
  followLogs,
  inspectContainer,
  listContainers,
  streamLogs,
  type ContainerDetails,
  type ContainerFilters,
  type ContainerInfo,
  type ContainerStats,
  type ContainerStatusFilter,
  type ContainerStatusName,
  type ListOptions,
  type LogEntry,
  type LogsOptions,
  type ProcessRow,
  type StateOptions,
  type StatsOptions,
  type TimeValue,
} from './state/api.js';
export {
  killContainer,
  pruneContainers,
  removeContainer,
  renameContainer,
  restartContainer,
  stopContainer,
  waitContainer,
  type KillOptions,
  type PruneResult,
  type RemoveOptions,
  type StopOptions,
} from './runtime/lifecycle.js';
export {
  createVolume,
  inspectVolume,
  listVolumes,
  pruneVolumes,
  removeVolume,
  volumeDiskUsage,
  type VolumeCreateOptions,
  type VolumeFilters,
  type VolumeInspect,
  type VolumeListOptions,
  type VolumePruneOptions,
  type VolumePruneResult,
  type VolumeRemoveOptions,
  type VolumeRootOptions,
  type VolumeUsage,
} from './volume/index.js';
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
// Issue 12 (i12-flags): the types of RunOptions' ulimits, devices and mounts.
export type { DeviceMapping, IdMapping, MountSpec, UlimitSpec } from './types.js';
export {
  connectNetwork,
  createNetwork,
  disconnectNetwork,
  inspectNetwork,
  listNetworks,
  pruneNetworks,
  releaseNetworkResources,
  removeNetwork,
  type ConnectOptions,
  type EndpointSettings,
  type NetworkCreateOptions,
  type NetworkInspect,
  type NetworkOptions,
  type NetworkPruneResult,
  type NetworkSummary,
} from './network/api.js';
