#!/usr/bin/env node
// Runs the compiled agent: `pnpm build` (scripts/build.mjs) writes it, and scripts/setup.sh and the tests run that.
const entry = new URL('../dist/entropy-agent.js', import.meta.url);
await import(entry.href).catch((err) => {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes(entry.pathname)) throw err;
  process.stderr.write(`error: ${entry.pathname} is not built: run pnpm build (or bash scripts/setup.sh)\n`);
  process.exit(1);
});
