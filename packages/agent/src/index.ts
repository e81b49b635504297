export { ActionLedger, DEFAULT_LEDGER_SIZE, type LedgerOutcome } from './action-ledger.ts';
export {
  DEFAULT_HELLO_INTERVAL_MS,
  DEFAULT_STATUS_AFTER_ACTION_MS,
  DEFAULT_STATUS_INTERVAL_MS,
  natsSimPeers,
  startAgent,
  type Agent,
  type AgentLogger,
  type AgentOptions,
} from './agent.ts';
export { DriverConfigError, DriverError, type DriverVM, type HypervisorDriver } from './drivers/driver.ts';
export { execRunner, type CommandOutput, type CommandRunner, type ExecRunnerOptions } from './drivers/exec.ts';
export { createDriver, DRIVER_NAMES, DriverName, type DriverFactory, type DriverSettings } from './drivers/factory.ts';
export { DEFAULT_IMAGE_DIR, imageStore, type ImageStore } from './drivers/image-store.ts';
export { loadShellConfig, parseShellConfig, PLACEHOLDERS, renderCommand, shellDriver, type ShellConfig, type ShellDriverOptions } from './drivers/shell-driver.ts';
export { simDriver, type SimDriver, type SimDriverOptions, type SimPeerSend, type SimVM } from './drivers/sim-driver.ts';
export { STATE_AFTER } from './drivers/state-after.ts';
export { parseDomstats, virshDriver, type VirshDriverOptions } from './drivers/virsh-driver.ts';
export { DEFAULT_XL_CONFIG_DIR, parseXlList, xlDriver, type XlDriverOptions } from './drivers/xl-driver.ts';
export { AgentOptionError, parseAgentOptions, parseCapacity, SIM_FAIL_ENV, type AgentSettings, type RawAgentOptions } from './options.ts';
/** The NATS client the agent uses, re-exported so tests and tools connect the same way without their own dependency. */
export { connect, type NatsConnection } from '@nats-io/transport-node';
