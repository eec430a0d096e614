/** The sub-commands of `sl-bridge`, in the order `--help` lists them. */
import type { Command } from 'commander';
import { registerDemo } from './demo.js';
import { registerInit } from './init.js';
import { registerApp } from './app.js';
import { registerRun } from './run.js';
import { registerMedium } from './medium.js';
import { registerPkmf } from './pkmf.js';
import { registerCa } from './ca.js';
import { registerKeys } from './keys.js';
import { registerPdu } from './pdu.js';
import { registerVectors } from './vectors.js';
import { registerBench } from './bench.js';
import { registerInterop } from './interop.js';

export function registerCommands(program: Command): void {
  registerDemo(program);
  registerInit(program);
  registerRun(program);
  registerApp(program);
  registerMedium(program);
  registerPkmf(program);
  registerCa(program);
  registerKeys(program);
  registerPdu(program);
  registerVectors(program);
  registerBench(program);
  registerInterop(program);
}
