import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { BUILTIN_POLICIES, type Policy, PolicyError, PolicyErrorCode, type PolicyFactory } from '@entropy/engine';
import { importPolicyModule } from './import-policy-module.ts';

function looksLikePath(nameOrPath: string): boolean {
  return nameOrPath.startsWith('.') || isAbsolute(nameOrPath) || /\.(c|m)?[jt]s$/.test(nameOrPath);
}

/**
 * A built-in policy by name, or a user's policy from a module path (relative to `cwd`). The
 * module's default export (or its export named `policy`) is a Policy, or a factory called with
 * `options` that returns one. Throws PolicyError (ENTROPY_POLICY_LOAD) naming what is wrong.
 */
export async function loadPolicy(
  nameOrPath: string,
  options: Readonly<Record<string, unknown>> = {},
  cwd: string = process.cwd(),
): Promise<Policy> {
  const builtin = Object.hasOwn(BUILTIN_POLICIES, nameOrPath) ? BUILTIN_POLICIES[nameOrPath] : undefined;
  if (builtin) return checkedPolicy(builtin(options), nameOrPath);
  if (!looksLikePath(nameOrPath))
    throw new PolicyError(
      PolicyErrorCode.PolicyLoad,
      `unknown policy '${nameOrPath}': built-in policies are ${Object.keys(BUILTIN_POLICIES).join(', ')}; a module path starts with ./ or /`,
    );
  const file = resolve(cwd, nameOrPath);
  checkPolicyFile(file);
  let module: Record<string, unknown>;
  try {
    module = await importPolicyModule(file);
  } catch (cause) {
    throw new PolicyError(PolicyErrorCode.PolicyLoad, `policy module ${file} failed to load: ${firstLine(cause)}`, {
      cause,
    });
  }
  const exported = module.default ?? module.policy;
  if (typeof exported === 'function') {
    let built: unknown;
    try {
      built = (exported as PolicyFactory)(options);
    } catch (cause) {
      throw new PolicyError(PolicyErrorCode.PolicyLoad, `policy factory of ${file} threw: ${firstLine(cause)}`, {
        cause,
      });
    }
    return checkedPolicy(built, file);
  }
  return checkedPolicy(exported, file);
}

/** The largest policy module loaded: a policy is code someone wrote, not data. */
export const MAX_POLICY_BYTES = 16 * 1024 * 1024;

function checkPolicyFile(file: string): void {
  let st;
  try {
    st = statSync(file);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new PolicyError(
      PolicyErrorCode.PolicyLoad,
      code === 'ENOENT' ? `policy module ${file} does not exist` : `policy module ${file}: cannot read (${code})`,
      { cause },
    );
  }
  if (!st.isFile()) throw new PolicyError(PolicyErrorCode.PolicyLoad, `policy module ${file} is not a regular file`);
  if (st.size > MAX_POLICY_BYTES)
    throw new PolicyError(
      PolicyErrorCode.PolicyLoad,
      `policy module ${file} is ${st.size} bytes, more than ${MAX_POLICY_BYTES}`,
    );
}

/** The first line of an error's message: a module's syntax error may quote source lines after it. */
export function firstLine(cause: unknown): string {
  return (cause instanceof Error ? cause.message : String(cause)).split('\n')[0]!;
}

function checkedPolicy(value: unknown, where: string): Policy {
  const p = value as Partial<Policy> | null | undefined;
  if (!p || typeof p !== 'object' || typeof p.decide !== 'function')
    throw new PolicyError(
      PolicyErrorCode.PolicyLoad,
      `${where} does not export a policy: expected a default export { name, decide(view) } or a factory returning one`,
    );
  if (typeof p.name !== 'string' || p.name === '')
    throw new PolicyError(PolicyErrorCode.PolicyLoad, `${where}: the policy has no name (a non-empty string)`);
  if (p.sizing !== undefined && p.sizing !== 'peak' && p.sizing !== 'measured')
    throw new PolicyError(
      PolicyErrorCode.PolicyLoad,
      `${where}: sizing must be 'peak' or 'measured', got ${JSON.stringify(p.sizing)}`,
    );
  return p as Policy;
}
