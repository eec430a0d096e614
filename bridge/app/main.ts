/**
 * The ranging application as a process (the demo starts one per UE):
 *
 *   node dist/bridge/app/main.js --endpoint ipc:///tmp/ue1.sock --group 0x00abcd --rate 200 --seconds 30
 *
 * Prints one JSON line per --stats-interval-ms ({"event":"stats",...}) and a final one
 * ({"event":"final",...}) on exit (after --seconds, or on SIGINT/SIGTERM). Exit status 0, or 2
 * for bad arguments.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { RangingApp, type RangingStats } from './ranging.js';

const USAGE = `usage: ranging-app --endpoint URL --group ID [--rate N] [--seconds S] [--sdu-bytes N]
                   [--stats-interval-ms MS] [--name NAME]
  --endpoint URL           the daemon's application endpoint (ipc:///... or tcp://HOST:PORT)
  --group ID               24-bit Group ID, decimal or 0x-hex
  --rate N                 ranging requests per second (default 10; 0 = only answer)
  --seconds S              stop after S seconds (default 0: run until SIGINT/SIGTERM)
  --sdu-bytes N            pad SDUs to about N bytes (default 0: no padding)
  --stats-interval-ms MS   print a stats line every MS ms (default 1000; 0 = only the final one)
  --name NAME              a label copied into every JSON line
`;

function fail(message: string): never {
  process.stderr.write(`ranging-app: ${message}\n${USAGE}`);
  process.exit(2);
}

function parseNumber(flag: string, v: string | undefined, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  const n = /^0x[0-9a-f]+$/i.test(v) ? parseInt(v, 16) : Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) fail(`${flag}: expected a number from ${min} to ${max}, got "${v}"`);
  return n;
}

export async function main(argv: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        endpoint: { type: 'string' },
        group: { type: 'string' },
        rate: { type: 'string' },
        seconds: { type: 'string' },
        'sdu-bytes': { type: 'string' },
        'stats-interval-ms': { type: 'string' },
        name: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (e) {
    fail((e as Error).message);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (!values.endpoint) fail('--endpoint is required');
  if (values.group === undefined) fail('--group is required');
  const groupId = parseNumber('--group', values.group, 0, 0, 0xffffff);
  if (!Number.isInteger(groupId)) fail('--group: expected an integer');
  const rate = parseNumber('--rate', values.rate, 10, 0, 1_000_000);
  const seconds = parseNumber('--seconds', values.seconds, 0, 0, 1e9);
  const sduBytes = parseNumber('--sdu-bytes', values['sdu-bytes'], 0, 0, 9000);
  const statsIntervalMs = parseNumber('--stats-interval-ms', values['stats-interval-ms'], 1000, 0, 3_600_000);
  const name = values.name;

  const app = new RangingApp({ endpoint: values.endpoint, groupId, ratePerSecond: rate, sduBytes });
  const line = (event: string, s: RangingStats): void => {
    process.stdout.write(`${JSON.stringify({ event, ...(name ? { name } : {}), ...s })}\n`);
  };
  await app.start();
  app.startRequests();
  const interval = statsIntervalMs > 0 ? setInterval(() => line('stats', app.stats()), statsIntervalMs) : undefined;
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    if (seconds > 0) setTimeout(done, seconds * 1000);
  });
  if (interval) clearInterval(interval);
  app.stopRequests();
  // Let the answers to the last requests come back before counting.
  await new Promise((r) => setTimeout(r, 200));
  line('final', app.stats());
  await app.close();
}

// Run when executed directly (node dist/bridge/app/main.js or node --import tsx bridge/app/main.ts).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`ranging-app: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  });
}
