#!/usr/bin/env node
// Entry point of the `sl-bridge` command: the compiled CLI lives in dist/ (built by `npm ci`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/bridge/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  console.error('sl-bridge: dist/ is missing; run `npm ci` (or `npm run build`) in the project first');
  process.exit(1);
}
const { main } = await import(cli.href);
await main(process.argv);
