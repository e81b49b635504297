export {
  credentialsFile,
  hashPassword,
  natsServerConfig,
  NKEY_SEED_ENV,
  parseCredentialsFile,
  PASSWORD_ENV,
  URL_ENV,
  USER_ENV,
} from './nats-config.ts';
export {
  agentPermissions,
  agentUser,
  clusterUsers,
  CONTROLLER_USER,
  controllerPermissions,
  OBSERVER_USER,
  observerPermissions,
  OPERATOR_USER,
  operatorPermissions,
  Role,
  type ClusterUser,
  type Permissions,
} from './nats-roles.ts';
export {
  credentialsPath,
  natsConfigCommand,
  type NatsConfigCommandOptions,
  serverConfigPath,
} from './nats-config-command.ts';
export { type DeployHost, parseHosts } from './hosts.ts';
export { type AgentBundle, buildAgentBundle } from './agent-bundle.ts';
export {
  agentEnvFile,
  agentStartCommand,
  checkNodeVersion,
  type HostResult,
  installHost,
  installHosts,
  type InstallOptions,
} from './installer.ts';
export { EXIT_HOST_FAILED, formatResults, installCommand, type InstallCommandOptions } from './install-command.ts';
export {
  type Connector,
  type HostKeyStatus,
  type HostKeyVerifier,
  type RemoteSession,
  SshError,
  sshConnect,
} from './ssh-session.ts';
export { HostKeyCheck, type HostKeyCheckOptions } from './host-key-check.ts';
export {
  checkHostKey,
  fingerprintOf,
  type HostKeyVerdict,
  type KnownHostEntry,
  knownHostName,
  parseKnownHosts,
} from './known-hosts.ts';
