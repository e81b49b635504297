import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Vitest's global setup: compiles the commands (scripts/build.mjs) before any test runs, so that the processes the
 * integration tests start (entropy, entropy-agent, entropy-watch) run the JavaScript that ships, built from the
 * sources under test, never a stale build.
 */
export default function buildCommands(): void {
  execFileSync(process.execPath, [fileURLToPath(new URL('../scripts/build.mjs', import.meta.url)), '--quiet'], {
    stdio: 'inherit',
  });
}
