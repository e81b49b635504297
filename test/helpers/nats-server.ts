// The demo and the tests start nats-server the same way: one implementation, in the controller package.
export {
  startNatsServer,
  type NatsServer,
  type NatsServerOptions,
} from '../../packages/controller/src/cluster/nats-server.ts';
