/** The environment variables of the NATS settings (nats-auth.ts), apart so that declaring the options loads no client. */
export const NatsEnv = {
  /** One URL or several, comma-separated. */
  Url: 'ENTROPY_NATS_URL',
  /** A credentials file. */
  Creds: 'ENTROPY_NATS_CREDS',
  User: 'ENTROPY_NATS_USER',
  Password: 'ENTROPY_NATS_PASSWORD',
  /** An nkey seed file. */
  Nkey: 'ENTROPY_NATS_NKEY',
  /** An nkey seed itself (in a credentials file). */
  NkeySeed: 'ENTROPY_NATS_NKEY_SEED',
  TlsCa: 'ENTROPY_NATS_TLS_CA',
  TlsCert: 'ENTROPY_NATS_TLS_CERT',
  TlsKey: 'ENTROPY_NATS_TLS_KEY',
} as const;

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
