export {
  ActionLedger,
  DEFAULT_LEDGER_SIZE,
  interruptedResult,
  type ActionLedgerOptions,
  type LedgerEntry,
  type LedgerOutcome,
  type LedgerRecovery,
} from './state/action-ledger.ts';
export {
  LEDGER_FILE,
  memoryAgentState,
  openAgentState,
  TOKEN_FILE,
  VM_META_FILE,
  type AgentState,
  type AgentStateOptions,
} from './state/agent-state.ts';
export { FencingToken, type TokenVerdict } from './state/fencing-token.ts';
export { DEFAULT_STATE_ROOT, defaultStateDir, StateDirError } from './state/state-dir.ts';
export { VMMetaStore, type VMMetadata } from './state/vm-meta-store.ts';
export {
  DEFAULT_HELLO_INTERVAL_MS,
  DEFAULT_STATUS_AFTER_ACTION_MS,
  DEFAULT_STATUS_INTERVAL_MS,
  natsSimPeers,
  startAgent,
  type Agent,
  type Logger,
  type AgentOptions,
} from './agent.ts';
export {
  DriverConfigError,
  DriverError,
  type DriverVM,
  type HypervisorDriver,
  type MigrateOutcome,
} from './drivers/driver.ts';
export { execRunner, type CommandOutput, type CommandRunner, type ExecRunnerOptions } from './drivers/exec.ts';
export { createDriver, DRIVER_NAMES, DriverName, type DriverFactory, type DriverSettings } from './drivers/factory.ts';
export { DEFAULT_IMAGE_DIR, imageStore, type ImageStore } from './drivers/image-store.ts';
export {
  loadShellConfig,
  parseShellConfig,
  PLACEHOLDERS,
  renderCommand,
  shellDriver,
  type ShellConfig,
  type ShellDriverOptions,
} from './drivers/shell-driver.ts';
export {
  HANG_OVERRUN_MS,
  SIM_FAULTS_FIRED_FILE,
  simDriver,
  type SimDriver,
  type SimDriverOptions,
  type SimPeerSend,
  type SimVM,
} from './drivers/sim-driver.ts';
export {
  faultRuleSchema,
  parseFaultRules,
  SimFault,
  SimFaults,
  type FaultRule,
  type SimFaultsOptions,
} from './drivers/sim-faults.ts';
export {
  SIM_STATE_FILE,
  SIM_VM_STATES,
  simStateFile,
  simVmSchema,
  type SimVMRecord,
  type SimVMState,
} from './drivers/sim-store.ts';
export { STATE_AFTER } from '@entropy/protocol';
export { parseDomstats, virshDriver, type VirshDriverOptions } from './drivers/virsh-driver.ts';
export { DEFAULT_XL_CONFIG_DIR, parseXlList, xlDriver, type XlDriverOptions } from './drivers/xl-driver.ts';
export {
  AgentOptionError,
  parseAgentOptions,
  parseCapacity,
  SIM_FAIL_ENV,
  type AgentSettings,
  type RawAgentOptions,
} from './options.ts';
/** The NATS client the agent uses, re-exported so tests and tools connect the same way without their own dependency. */
export { connect, type NatsConnection } from '@nats-io/transport-node';
