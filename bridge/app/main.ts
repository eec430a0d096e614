/**
 * `sl-bridge app ranging`: the ranging application as a process (testbed.sh starts one per UE):
 *
 *   sl-bridge app ranging --endpoint ipc:///tmp/ue1.sock --group 0x00abcd --rate 200 --seconds 30
 *
 * Prints one JSON line per --stats-interval-ms ({"event":"stats",...}) and a final one
 * ({"event":"final",...}) on exit (after --seconds, or on SIGINT/SIGTERM). A daemon that is not
 * reached within --connect-timeout seconds ends it with status 1 and a message on stderr: a ZeroMQ
 * connect never fails by itself, it would wait for ever.
 */
import { RangingApp, type RangingStats } from './ranging.js';

export interface RangingAppFlags {
  endpoint: string;
  groupId: number;
  rate: number;
  seconds: number;
  sduBytes: number;
  statsIntervalMs: number;
  connectTimeoutS: number;
  name?: string;
}

export class DaemonNotReached extends Error {}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runRangingApp(f: RangingAppFlags): Promise<void> {
  const app = new RangingApp({ endpoint: f.endpoint, groupId: f.groupId, ratePerSecond: f.rate, sduBytes: f.sduBytes });
  const line = (event: string, s: RangingStats): void => {
    process.stdout.write(`${JSON.stringify({ event, ...(f.name ? { name: f.name } : {}), ...s })}\n`);
  };
  await app.start();
  let stop = false;
  const onSignal = (): void => void (stop = true);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const reachBy = Date.now() + f.connectTimeoutS * 1000;
    while (!app.connected && !stop) {
      if (Date.now() > reachBy) {
        throw new DaemonNotReached(
          `never reached the daemon at ${f.endpoint} in ${f.connectTimeoutS} s: is \`sl-bridge run\` up with app.endpoint ${f.endpoint} in its config?`,
        );
      }
      await sleep(50);
    }
    app.startRequests();
    const interval = f.statsIntervalMs > 0 ? setInterval(() => line('stats', app.stats()), f.statsIntervalMs) : undefined;
    const endAt = f.seconds > 0 ? Date.now() + f.seconds * 1000 : Infinity;
    while (!stop && Date.now() < endAt) await sleep(Math.min(100, endAt - Date.now()));
    if (interval) clearInterval(interval);
    app.stopRequests();
    // Let the answers to the last requests come back before counting.
    await sleep(200);
    line('final', app.stats());
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await app.close();
  }
}
