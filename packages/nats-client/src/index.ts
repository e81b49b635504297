// How every Entropy process connects to NATS: servers, credentials (user and password, nkey), TLS, the inbox of its
// role. Shared by the agent and the controller's commands, which otherwise share only the protocol.
export {
  DEFAULT_NATS_URL,
  NatsAuthError,
  type NatsAuthFlags,
  type NatsClientSettings,
  natsClientSettings,
  NatsEnv,
  parseCredentials,
  parseServers,
} from './nats-auth.ts';
export { addNatsOptions } from './nats-auth-options.ts';
