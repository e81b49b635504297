import type { Command } from 'commander';
import { NatsEnv } from './nats-auth-env.ts';

/**
 * The NATS options every command that connects declares (`entropy controller`, `entropy-agent`,
 * `entropy-watch`, `entropy status`, ...): no code runs and nothing loads until the command does.
 * Each falls back to its environment variable, then to the credentials file (nats-auth.ts).
 */
export function addNatsOptions<C extends Command>(cmd: C, what = 'NATS server URL'): C {
  cmd
    .option(
      '--nats <urls>',
      `${what}, or several comma-separated (a cluster's servers); default $${NatsEnv.Url}, else nats://127.0.0.1:4222`,
    )
    .option(
      '--creds <file>',
      `credentials file (entropy deploy nats-config writes one per user: user and password, or nkey seed); default $${NatsEnv.Creds}`,
    )
    .option('--nkey <file>', `nkey seed file (SU...); default $${NatsEnv.Nkey}`)
    .option('--tls-ca <file>', `CA certificate the server's is checked against; default $${NatsEnv.TlsCa}`)
    .option('--tls-cert <file>', `client certificate (with --tls-key); default $${NatsEnv.TlsCert}`)
    .option('--tls-key <file>', `client certificate's key; default $${NatsEnv.TlsKey}`);
  return cmd;
}
