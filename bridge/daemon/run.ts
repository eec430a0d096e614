/**
 * `sl-bridge run --profile FILE --config UE.yaml`: runs one UE's daemon until SIGINT/SIGTERM.
 * Logs go to stderr (pino); with `--status-interval S` a JSON status line goes to stdout every S
 * seconds (`{"event":"status",...}`), plus `{"event":"ready",...}` once the sockets are open and
 * `{"event":"final",...}` at the end. docs/daemon.md describes them. The PDCP entities always run
 * with the live stage profiler of bridge/metrics/ (sampled; summarised in the log every
 * `--metrics-log-interval` s); `--metrics HOST:PORT` also serves it as Prometheus metrics.
 */
import { CliError } from '../cli-error.js';
import { ConfigError } from '../config/reader.js';
import { loadHwProfile } from '../profiles/loader.js';
import type { HwProfile } from '../profiles/types.js';
import { PtkStateError } from '../state/ptk-high-water-file.js';
import { prepareStateDir, StateDirError, type StateDirCheck } from '../state/state-dir.js';
import { TransportError } from '../transport/types.js';
import type { LogLevel } from '../config/log-levels.js';
import { MetricsListenError } from '../metrics/http-endpoint.js';
import { loadDaemonConfig, type DaemonConfig } from './config.js';
import type { BridgeDaemon, DaemonStatus, SecurityMode } from './daemon.js';
import { ConfigurationError, createDaemon } from './factory.js';
import { createLogger } from '../logging.js';
import { openCaptureTaps } from './taps.js';
import { checkLatencyFlags } from './busy-poll.js';
import { createDaemonMetrics, type DaemonMetrics } from '../metrics/daemon-metrics.js';

/** The flags as commander parsed and checked them (bridge/commands/run.ts). */
export interface RunFlags {
  profile: string;
  config?: string;
  security: SecurityMode;
  statusInterval?: number;
  logLevel?: LogLevel;
  pcap?: string;
  keylog?: string;
  metrics?: string;
  metricsLogInterval: number;
  metricsSample?: number;
  keepWarm?: number;
  busyPoll?: number;
}

function load<T>(what: () => T): T {
  try {
    return what();
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message, 2);
    throw e;
  }
}

/**
 * The state directories (docs/daemon.md): the daemon's and, if it is another one, the key
 * client's, each created 0700. A file in the place of one is a config error naming its key; any
 * other failure (EACCES, …) a failed start. Returns the warnings about existing ones that are not
 * private.
 */
function checkStateDirs(config: DaemonConfig): { dir: string; warning: NonNullable<StateDirCheck['warning']> }[] {
  const dirs = new Map<string, string>([[config.stateDir, config.stateDirKey]]);
  if (config.keys && !dirs.has(config.keys.stateDir)) dirs.set(config.keys.stateDir, 'keys.stateDir');
  const warnings: { dir: string; warning: NonNullable<StateDirCheck['warning']> }[] = [];
  for (const [dir, key] of dirs) {
    try {
      const { warning } = prepareStateDir(dir);
      if (warning) warnings.push({ dir, warning });
    } catch (e) {
      if (!(e instanceof StateDirError)) throw e;
      if (e.reason === 'not-a-directory') {
        throw new CliError(`${new ConfigError(config.file, key, 'expected a directory for the daemon state', dir).message} (${e.detail})`, 2);
      }
      throw new CliError(`cannot use the state directory ${dir} (${key} in ${config.file}): ${e.detail}`, 1);
    }
  }
  return warnings;
}

export async function runDaemon(flags: RunFlags): Promise<void> {
  if (!flags.config) throw new CliError('run: --config <UE.yaml> is required (see `sl-bridge run --help`)', 2);
  const { security } = flags;
  const statusIntervalS = flags.statusInterval ?? 0;
  const metricsLogIntervalS = flags.metricsLogInterval;
  const sampleEvery = flags.metricsSample;
  checkLatencyFlags(flags, 'run');
  const config: DaemonConfig = load(() => loadDaemonConfig(flags.config!));
  const profile: HwProfile = load(() => loadHwProfile(flags.profile));
  const stateDirWarnings = checkStateDirs(config);
  // stderr: stdout carries the status lines.
  const logger = createLogger({ level: flags.logLevel ?? config.logLevel, base: { ue: config.name } });
  for (const { dir, warning } of stateDirWarnings) logger.warn({ svc: 'daemon', dir, mode: warning.mode, uid: warning.uid }, warning.message);

  const taps = await openCaptureTaps({ pcap: flags.pcap, keylog: flags.keylog }).catch((e: unknown) => {
    throw new CliError(`cannot open a capture file: ${(e as Error).message}`, 1);
  });
  // Live per-stage metrics (issue 7): always profiled, served over HTTP with --metrics.
  let daemon: BridgeDaemon | undefined;
  let metrics: DaemonMetrics;
  try {
    metrics = createDaemonMetrics({
      ueId: config.name,
      ...(flags.metrics !== undefined ? { listen: flags.metrics } : {}),
      summaryIntervalMs: metricsLogIntervalS * 1000,
      ...(sampleEvery !== undefined ? { sampleEvery } : {}),
      logger: logger.child({ svc: 'metrics' }),
      counters: () => daemon?.counterSamples() ?? [],
    });
  } catch (e) {
    throw new CliError(`--metrics: ${(e as Error).message}`, 2);
  }
  let started = false;
  try {
    daemon = await createDaemon(config, profile, {
      logger,
      security,
      profiler: metrics.profiler,
      ...taps,
      ...(flags.keepWarm ? { keepWarmMs: flags.keepWarm } : {}),
      ...(flags.busyPoll ? { busyPollUs: flags.busyPoll } : {}),
    });
    await daemon.start(); // releases what it opened if it fails
    started = true;
    await metrics.start();
  } catch (e) {
    if (started) await daemon?.stop().catch(() => undefined);
    await metrics.stop().catch(() => undefined);
    if (!daemon) {
      await taps.stackTap?.close().catch(() => undefined);
      taps.keyTap?.close();
    }
    if (e instanceof ConfigurationError || e instanceof CliError) throw new CliError(e.message, 2);
    if (e instanceof PtkStateError) throw new CliError(`PTK state: ${e.message}`, 1);
    if (e instanceof TransportError) throw new CliError(`transport: ${e.message}`, 1);
    if (e instanceof MetricsListenError) throw new CliError(e.message, 1);
    throw e;
  }
  const running = daemon;

  const print = (s: DaemonStatus): void => {
    process.stdout.write(`${JSON.stringify(metrics.url ? { ...s, metricsUrl: metrics.url } : s)}\n`);
  };
  if (statusIntervalS > 0) print(running.status('ready'));
  const timer = statusIntervalS > 0 ? setInterval(() => print(running.status()), statusIntervalS * 1000) : undefined;

  await new Promise<void>((done) => {
    const finish = (signal: NodeJS.Signals): void => {
      logger.info({ svc: 'daemon', signal }, 'stopping');
      process.off('SIGINT', finish);
      process.off('SIGTERM', finish);
      // A second signal while stopping ends the process at once.
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      done();
    };
    process.on('SIGINT', finish);
    process.on('SIGTERM', finish);
  });
  if (timer) clearInterval(timer);
  const final = await running.stop();
  await metrics.stop();
  if (statusIntervalS > 0) print(final);
}
