export {
  ClusterMonitor,
  type ActionOutcomeObservation,
  DEFAULT_MISSED_PERIODS,
  DEFAULT_STATUS_PERIOD_MS,
  ExclusionReason,
  NodeLiveness,
  type ExcludedVM,
  type MonitorOptions,
  type MonitorView,
  type NodeView,
} from './cluster-monitor.ts';
export { startNatsMonitor, type NatsMonitor, type NatsMonitorOptions } from './nats-monitor.ts';
export { vjobIndexOf, type VjobIndex } from './vjob-index.ts';
export { MemoryRegistry, type KnownVJob, type KnownVM, type VMRegistry } from './vm-registry.ts';
