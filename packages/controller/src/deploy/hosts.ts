import { EntropyError, ErrorCode, TOKEN_RE } from '@entropy/protocol';
import type { SshTarget } from './ssh-session.ts';

export interface DeployHost extends SshTarget {
  /** The node id: the agent's `--node`, the unit's instance name. */
  readonly node: string;
}

const TARGET_RE = /^(?:([A-Za-z0-9._-]+)@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/;

/** `n1=root@10.0.0.1,n2=admin@node2:2222` -> hosts; the user defaults to root and the port to 22. */
export function parseHosts(text: string): DeployHost[] {
  const hosts: DeployHost[] = [];
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const i = part.indexOf('=');
    const fail = (why: string): never => {
      throw new EntropyError(
        ErrorCode.Io,
        `--hosts: ${JSON.stringify(part)}: ${why} (expected NODE=[USER@]HOST[:PORT])`,
      );
    };
    if (i <= 0) fail('no node id');
    const node = part.slice(0, i);
    if (!TOKEN_RE.test(node)) fail(`node id must match ${TOKEN_RE.source}`);
    const m = TARGET_RE.exec(part.slice(i + 1));
    if (!m) fail('not a [USER@]HOST[:PORT]');
    const port = m![3] === undefined ? 22 : Number(m![3]);
    if (port < 1 || port > 65535) fail('port out of range');
    if (hosts.some((h) => h.node === node)) fail(`node ${node} is listed twice`);
    hosts.push({ node, user: m![1] ?? 'root', host: m![2].replace(/^\[|\]$/g, ''), port });
  }
  if (hosts.length === 0) throw new EntropyError(ErrorCode.Io, '--hosts: give at least one NODE=[USER@]HOST[:PORT]');
  return hosts;
}
