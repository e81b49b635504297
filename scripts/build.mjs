#!/usr/bin/env node
// Compiles the three commands to plain JavaScript with esbuild, so that none of them loads TypeScript at run time:
//   packages/controller/dist/entropy.js      the CLI and controller, and the chunks/ it loads per command
//   packages/agent/dist/entropy-agent.js     the node agent, self-contained: one file, no node_modules
//   packages/agent/dist/entropy-watch.js     the subject watcher, self-contained too
// The agent ships to hypervisor nodes (entropy deploy install), so it carries its dependencies inside it.
// Usage: node scripts/build.mjs [--quiet] [--metafile]
import { build } from 'esbuild';
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');
const metafile = process.argv.includes('--metafile');

// CommonJS dependencies call require() for Node's built-ins; an ES module has no require of its own.
const banner = {
  js: "import { createRequire as __entropyCreateRequire } from 'node:module';\nconst require = __entropyCreateRequire(import.meta.url);",
};

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  legalComments: 'none',
  // Less to parse at each start; identifiers stay, so that a stack trace names the functions.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
  banner,
  metafile,
};

const targets = [
  {
    name: 'entropy',
    entryPoints: { entropy: join(root, 'packages/controller/src/cli/main.ts') },
    outdir: join(root, 'packages/controller/dist'),
    // Bundled too, since Node loads one file faster than a package's hundred (zod's ESM build is ~100 modules),
    // except what cannot be: ssh2 (optional native crypto), tsx (a loader, for policies written in TypeScript).
    external: ['ssh2', 'tsx', 'tsx/*', 'msgpackr-extract'],
    // Each command's code in chunks that the CLI imports when the command runs (cli/main.ts): a short start.
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
  },
  {
    name: 'entropy-agent, entropy-watch',
    entryPoints: {
      'entropy-agent': join(root, 'packages/agent/src/cli.ts'),
      'entropy-watch': join(root, 'packages/agent/src/watch-cli.ts'),
    },
    outdir: join(root, 'packages/agent/dist'),
    // msgpackr's optional native accelerator: msgpackr falls back to JavaScript without it.
    external: ['msgpackr-extract'],
  },
];

/** Each file is written beside its place and renamed over it: a process starting meanwhile reads a whole file. */
function writeAtomically(path, contents) {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, contents);
  renameSync(temp, path);
}

/** The previous build's chunks (their names carry a hash) go once the new ones are in place. */
function removeAllBut(dir, keep) {
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath ?? entry.path, entry.name);
    if (entry.isFile() && !keep.has(path)) rmSync(path);
  }
}

const started = performance.now();
const results = await Promise.all(
  targets.map(({ name, ...options }) =>
    build({ ...common, ...options, write: false }).then((r) => ({ name, options, r })),
  ),
);
for (const { options, r } of results) {
  for (const file of r.outputFiles) writeAtomically(file.path, file.contents);
  if (metafile) writeAtomically(join(options.outdir, 'meta.json'), JSON.stringify(r.metafile));
  removeAllBut(options.outdir, new Set([...r.outputFiles.map((f) => f.path), join(options.outdir, 'meta.json')]));
}
if (!quiet) {
  const ms = Math.round(performance.now() - started);
  process.stdout.write(
    `built ${results.map(({ options }) => relative(root, options.outdir)).join(', ')} in ${ms} ms\n`,
  );
}
