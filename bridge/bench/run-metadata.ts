/**
 * What a benchmark figure needs to be cited: when and where it was measured, with which build and
 * which settings. Every bench command writes this as the `run` object of its JSON and as the
 * footer of its plots (bridge/report/), so a saved file or an exported figure says where it
 * comes from.
 */
import { cpus, hostname } from 'node:os';
import { buildInfo } from '../build-info.js';

export interface RunMetadata {
  /** The command, e.g. `bench e2e`. */
  command: string;
  /** When the run started, ISO 8601 UTC. */
  date: string;
  host: string;
  cpu_model: string;
  /** Logical CPUs Node sees. */
  cores: number;
  node: string;
  /** `linux x64`. */
  platform: string;
  sl_bridge_version: string;
  /** The git commit sl-bridge was built from; null when unknown (bridge/build-info.ts). */
  commit: string | null;
  /** The commit with `-dirty` when the clone had uncommitted changes. */
  commit_describe: string | null;
  /** The command's settings after parsing: every flag, defaults included. */
  flags: Record<string, unknown>;
}

/** The metadata of a run of `command` with `flags`, starting now. */
export function runMetadata(command: string, flags: object, now: Date = new Date()): RunMetadata {
  const cpu = cpus();
  const b = buildInfo();
  return {
    command,
    date: now.toISOString(),
    host: hostname(),
    cpu_model: cpu[0]?.model.trim().replace(/\s+/g, ' ') ?? 'unknown',
    cores: cpu.length,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    sl_bridge_version: b.version,
    commit: b.commit,
    commit_describe: b.describe,
    flags: { ...flags },
  };
}

/** `ues=4 rates=500,1000,2000 seconds=5 ...`: the flags in one line, in their order. */
export function formatFlags(flags: Record<string, unknown>): string {
  return Object.entries(flags)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`)
    .join(' ');
}

/** The plot footer lines: build, date and machine, then the command and its flags. */
export function runFooter(run: RunMetadata): string[] {
  const commit = run.commit_describe ? run.commit_describe.replace(/^([0-9a-f]{12})[0-9a-f]*/, '$1') : 'unknown';
  return [
    `sl-bridge ${run.sl_bridge_version} (commit ${commit}), ${run.date}, host ${run.host}: ${run.cpu_model}, ${run.cores} cores, Node ${run.node}, ${run.platform}`,
    `sl-bridge ${run.command} ${formatFlags(run.flags)}`,
  ];
}
