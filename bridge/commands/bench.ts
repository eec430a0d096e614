import type { Command } from 'commander';

interface BenchCryptoFlags {
  sizes?: string;
  algs?: string;
  json?: string;
  minTime?: string;
  warmup?: string;
  baseline?: boolean;
}

/** `sl-bridge bench <what>`: benchmarks. `crypto` now; `e2e` joins later. */
export function registerBench(program: Command): void {
  const bench = program
    .command('bench')
    .description('benchmarks: per-call latency percentiles and throughput (run `bench crypto`)');

  bench
    .command('crypto')
    .description('time 128-NEA1/2/3 and 128-NIA1/2/3 engines (and PDCP protect rows) per payload size')
    .option('--sizes <list>', 'payload sizes in bytes, comma-separated', '16,64,128,512,1500')
    .option(
      '--algs <list>',
      'rows, comma-separated: nea1,nia1,nea2,nia2,nea3,nia3,baseline-nea2,baseline-nia2 ' +
        '(default: all of them); also nea2@node,nia2@node,nea2@ts,nia2@ts,nea2@noble,nia2@noble to compare AES backends',
    )
    .option('--json <file>', 'also write the results as JSON to <file>')
    .option('--min-time <ms>', 'measuring time per row in ms', '250')
    .option('--warmup <ms>', 'warm-up time per row in ms', '50')
    .option('--no-baseline', 'do not add baseline-nea2/baseline-nia2 when nea2/nia2 are selected')
    .addHelpText(
      'after',
      `
Each row is one algorithm at one payload size, run through an engine built once per key with a
fresh COUNT per call. Calls are timed in batches of ~30 us (process.hrtime.bigint() around k
back-to-back calls); each batch gives one per-call sample. Columns:
  p50_ns / p99_ns / p99.9_ns   per-call latency percentiles over the samples, in nanoseconds
  ops/s                        calls per second over the measured time
Then, per algorithm, a least-squares fit p50 = fixed_ns + ns/byte x size, and for nea2/nia2 the
ratio of their p50 to a naive baseline measured in the same run (baseline-nea2: a fresh
createCipheriv('aes-128-ctr') per packet; baseline-nia2: a fresh AES-CBC CMAC per packet).
Progress goes to stderr, the table to stdout. --json writes
  {"results":[{"name","size","p50_ns","p99_ns","p999_ns","ops_per_s"},...],"fits":[...],"ratios":[...]}

Examples:
  sl-bridge bench crypto
  sl-bridge bench crypto --sizes 128 --algs nea2,nia2 --json bench.json
`,
    )
    .action(async (flags: BenchCryptoFlags) => {
      const { benchCrypto } = await import('../bench/crypto-run.js');
      await benchCrypto(flags);
    });
}
