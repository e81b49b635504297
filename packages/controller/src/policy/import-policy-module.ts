import { register } from 'node:module';
import { pathToFileURL } from 'node:url';

/** Marks the URL of a `.js` policy (and of the `.js` files it imports) for the load hook below. */
const MARK = 'entropy-policy';

/**
 * A load hook, run in Node's loader thread, that reads a marked `.js` file as an ES module when its
 * syntax is one (import, export, import.meta, top-level await: the errors Node's own module syntax
 * detection looks for), whatever the nearest package.json says, and leaves any other file to Node.
 * The README's policy is an ES module with `export default`; Node reads a `.js` file by the
 * nearest package.json: CommonJS without `"type": "module"`, and then fails on `export` (or, on
 * Node 20.19 and later, reparses it with a warning, except under `"type": "commonjs"`).
 */
const HOOK = `
import { readFile } from 'node:fs/promises';
import { compileFunction } from 'node:vm';
const MARK = ${JSON.stringify(MARK)};
const MODULE_SYNTAX = new Set([
  'Cannot use import statement outside a module',
  "Unexpected token 'export'",
  "Cannot use 'import.meta' outside a module",
  "Identifier 'module' has already been declared",
  "Identifier 'exports' has already been declared",
  "Identifier 'require' has already been declared",
  "Identifier '__filename' has already been declared",
  "Identifier '__dirname' has already been declared",
  'await is only valid in async functions and the top level bodies of modules',
]);
const markedJs = (url) => url.startsWith('file:') && new URL(url).searchParams.has(MARK) && new URL(url).pathname.endsWith('.js');
function hasModuleSyntax(source) {
  try {
    compileFunction(source, ['exports', 'require', 'module', '__filename', '__dirname']);
    return false;
  } catch (err) {
    return err instanceof SyntaxError && MODULE_SYNTAX.has(err.message);
  }
}
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  const inherit = context.parentURL && markedJs(context.parentURL) && r.url.startsWith('file:') && r.url.endsWith('.js');
  return inherit ? { ...r, url: r.url + '?' + MARK } : r;
}
export async function load(url, context, next) {
  if (!markedJs(url)) return next(url, context);
  const source = await readFile(new URL(url));
  return hasModuleSyntax(source.toString('utf8')) ? { format: 'module', source, shortCircuit: true } : next(url, context);
}`;

let hookRegistered = false;

/**
 * Imports a policy module: `.ts` (and `.mts`, `.cts`) through tsx, since the compiled CLI reads no
 * TypeScript itself; `.js` through the hook above; `.mjs` and `.cjs` as Node reads them.
 */
export async function importPolicyModule(file: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(file).href;
  if (/\.(c|m)?ts$/.test(file)) {
    const { tsImport } = await import('tsx/esm/api');
    const module = (await tsImport(url, import.meta.url)) as Record<string, unknown>;
    // Outside an ES-module package, tsx compiles the file to CommonJS: its exports arrive as the namespace's default.
    const commonJs = module.default as Record<string, unknown> | undefined;
    return commonJs && typeof commonJs === 'object' && '__esModule' in commonJs ? commonJs : module;
  }
  if (!file.endsWith('.js')) return (await import(url)) as Record<string, unknown>;
  if (!hookRegistered) {
    register(`data:text/javascript,${encodeURIComponent(HOOK)}`);
    hookRegistered = true;
  }
  return (await import(`${url}?${MARK}`)) as Record<string, unknown>;
}
