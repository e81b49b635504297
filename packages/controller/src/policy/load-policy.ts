import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BUILTIN_POLICIES, type Policy, PolicyError, PolicyErrorCode, type PolicyFactory } from '@entropy/engine';

/** A policy module: the compiled CLI reads no TypeScript itself, so a policy written in TypeScript loads through tsx. */
async function importModule(file: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(file).href;
  if (!/\.(c|m)?ts$/.test(file)) return (await import(url)) as Record<string, unknown>;
  const { tsImport } = await import('tsx/esm/api');
  const module = (await tsImport(url, import.meta.url)) as Record<string, unknown>;
  // Outside an ES-module package, tsx compiles the file to CommonJS: its exports arrive as the namespace's default.
  const commonJs = module.default as Record<string, unknown> | undefined;
  return commonJs && typeof commonJs === 'object' && '__esModule' in commonJs ? commonJs : module;
}

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
  if (!existsSync(file)) throw new PolicyError(PolicyErrorCode.PolicyLoad, `policy module ${file} does not exist`);
  let module: Record<string, unknown>;
  try {
    module = await importModule(file);
  } catch (cause) {
    throw new PolicyError(PolicyErrorCode.PolicyLoad, `policy module ${file} failed to load: ${(cause as Error).message}`, { cause });
  }
  const exported = module.default ?? module.policy;
  if (typeof exported === 'function') {
    let built: unknown;
    try {
      built = (exported as PolicyFactory)(options);
    } catch (cause) {
      throw new PolicyError(PolicyErrorCode.PolicyLoad, `policy factory of ${file} threw: ${(cause as Error).message}`, { cause });
    }
    return checkedPolicy(built, file);
  }
  return checkedPolicy(exported, file);
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
    throw new PolicyError(PolicyErrorCode.PolicyLoad, `${where}: sizing must be 'peak' or 'measured', got ${JSON.stringify(p.sizing)}`);
  return p as Policy;
}
