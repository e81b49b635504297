import { describe, expect, it } from 'vitest';
import {
  checkHostKey,
  fingerprintOf,
  keyTypeOf,
  knownHostName,
  knownHostsLine,
  parseKnownHosts,
  patternsMatch,
  preferredAlgorithms,
} from './known-hosts.ts';

// Fixtures from OpenSSH 9.2: two ed25519 keys (ssh-keygen -t ed25519), and a file naming k1 for
// [10.0.0.1]:2222 and node1.example.org, hashed by ssh-keygen -H.
const K1 = 'AAAAC3NzaC1lZDI1NTE5AAAAIGnwFt6XuEOkMc5/8Zz9x8EOX0uoz+2S+u51k7dVQPuy';
const K2 = 'AAAAC3NzaC1lZDI1NTE5AAAAIAgUmgcYQMzHDsIk+nfbtAchNH1OlZA4jFy/tK6mn+u4';
const k1 = Buffer.from(K1, 'base64');
const k2 = Buffer.from(K2, 'base64');
const HASHED = [
  `|1|iFLHYYlHPpE6WTl0ujsWEmQ+Lbc=|NQsAoUKKcnt/+H/7M3LcFH+yWCI= ssh-ed25519 ${K1}`,
  `|1|KsgA0mCJc8c/5RqGoXVHfxCitv4=|8LanT1dLHOV4APdAyWLy96Uin+w= ssh-ed25519 ${K1}`,
].join('\n');

describe('known_hosts', () => {
  it('reads key types and fingerprints as ssh-keygen does', () => {
    expect(keyTypeOf(k1)).toBe('ssh-ed25519');
    expect(fingerprintOf(k1)).toBe('SHA256:la7EzUcY2gAsrMJSGiGDk3YH3G4sapKRyEQlFe25iMM');
    expect(keyTypeOf(Buffer.from([0, 0, 0]))).toBeUndefined();
  });

  it('names a host on port 22 plainly and on another port as [host]:port, lower case', () => {
    expect(knownHostName('Node1.Example.org', 22)).toBe('node1.example.org');
    expect(knownHostName('10.0.0.1', 2222)).toBe('[10.0.0.1]:2222');
    expect(knownHostName('::1', 2200)).toBe('[::1]:2200');
  });

  it('matches hashed names written by ssh-keygen -H', () => {
    const entries = parseKnownHosts(HASHED);
    expect(entries).toHaveLength(2);
    expect(checkHostKey(entries, '[10.0.0.1]:2222', k1)).toEqual({ kind: 'known', line: 1 });
    expect(checkHostKey(entries, 'node1.example.org', k1)).toEqual({ kind: 'known', line: 2 });
    expect(checkHostKey(entries, '10.0.0.1', k1)).toEqual({ kind: 'unknown' });
    expect(checkHostKey(entries, '[10.0.0.1]:2222', k2)).toMatchObject({ kind: 'changed', lines: [{ line: 1 }] });
  });

  it('matches patterns with wildcards and negations, comma-separated', () => {
    expect(patternsMatch('a.example.org,b.example.org', 'b.example.org')).toBe(true);
    expect(patternsMatch('*.example.org', 'node7.example.org')).toBe(true);
    expect(patternsMatch('*.example.org', 'example.org')).toBe(false);
    expect(patternsMatch('node?.example.org', 'node7.example.org')).toBe(true);
    expect(patternsMatch('node?.example.org', 'node17.example.org')).toBe(false);
    expect(patternsMatch('*.example.org,!bad.example.org', 'bad.example.org')).toBe(false);
    expect(patternsMatch('[10.0.0.1]:2222', '[10.0.0.1]:2222')).toBe(true);
    expect(patternsMatch('10.0.0.1', '[10.0.0.1]:2222')).toBe(false);
    expect(patternsMatch('a.b', 'aXb')).toBe(false);
  });

  it('skips comments, blank and malformed lines, and a key whose blob is of another type than its line says', () => {
    const text = [
      '# comment',
      '',
      `host1 ssh-ed25519`,
      `host1 ssh-rsa ${K1}`,
      `host1 ssh-ed25519 not*base64`,
      `  host2   ssh-ed25519   ${K2}   a comment`,
    ].join('\n');
    expect(parseKnownHosts(text)).toEqual([{ line: 6, patterns: 'host2', keyType: 'ssh-ed25519', key: k2 }]);
  });

  it('refuses a revoked key whatever other lines say, and ignores certificate authorities', () => {
    const entries = parseKnownHosts(
      `host1 ssh-ed25519 ${K1}\n@revoked * ssh-ed25519 ${K1}\n@cert-authority host2 ssh-ed25519 ${K2}`,
    );
    expect(checkHostKey(entries, 'host1', k1)).toEqual({ kind: 'revoked', line: 2 });
    expect(checkHostKey(entries, 'host2', k2)).toEqual({ kind: 'unknown' });
  });

  it('calls a key of a type no line holds for a named host changed, not new', () => {
    const rsa = Buffer.concat([Buffer.from([0, 0, 0, 7]), Buffer.from('ssh-rsa'), Buffer.alloc(20, 1)]);
    const entries = parseKnownHosts(`host1 ssh-rsa ${rsa.toString('base64')}`);
    expect(checkHostKey(entries, 'host1', k1)).toMatchObject({ kind: 'changed' });
    expect(preferredAlgorithms(entries, 'host1').slice(0, 3)).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    expect(preferredAlgorithms(entries, 'host2')[0]).toBe('ssh-ed25519');
  });

  it('writes a line that it reads back', () => {
    const line = knownHostsLine('[10.0.0.1]:2222', k2);
    expect(line).toBe(`[10.0.0.1]:2222 ssh-ed25519 ${K2}`);
    expect(checkHostKey(parseKnownHosts(line), '[10.0.0.1]:2222', k2)).toEqual({ kind: 'known', line: 1 });
  });
});
