#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, so no build step stands between a clone and the watcher.
import { register } from 'tsx/esm/api';

register();
await import('../src/watch-cli.ts');
