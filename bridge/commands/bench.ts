import { Option, type Command } from 'commander';
import { ALL_CRYPTO_ALGS, DEFAULT_SIZES, MAX_BENCH_SIZE } from '../bench/crypto-rows.js';
import { choice, commaList, integerIn, numberIn, positive, secondsIn, type FlagParser } from '../cli-flags.js';
import { REPETITIONS } from '../../src/stats/interval.js';

// Type-only imports: the implementations load lazily in the actions.
import type { BenchCryptoFlags } from '../bench/crypto-run.js';
import type { BenchE2eFlags } from '../bench/e2e-run.js';
import type { BenchScaleFlags } from '../bench/scale-run.js';
import type { BenchStallsFlags } from '../bench/stalls-run.js';

/** A `bench crypto` row name, in any case. */
const cryptoAlg: FlagParser<string> = (value) => choice(ALL_CRYPTO_ALGS)(value.toLowerCase());

/**
 * The smallest `bench e2e --sdu-bytes`: a probe's header, PROBE_HEADER_BYTES of
 * bridge/bench/e2e-traffic.ts (written out so that declaring the command does not load the load
 * generator; test/integration/bench-e2e.test.ts checks the two agree).
 */
const MIN_PROBE_SDU_BYTES = 20;

/** `sl-bridge bench <what>`: benchmarks (`crypto`: the engines and PDCP calls; `e2e`: daemons end to end). */
export function registerBench(program: Command): void {
  const bench = program
    .command('bench')
    .description(
      'benchmarks: `bench crypto` (engines and PDCP calls), `bench e2e` (daemons over the medium emulator), `bench scale` (the demo against the number of UEs), `bench stalls` (how much this machine stalls a thread)',
    );

  bench
    .command('crypto')
    .description('time 128-NEA1/2/3 and 128-NIA1/2/3 engines (and PDCP protect rows) per payload size')
    .addOption(
      new Option('--sizes <list>', `payload sizes in bytes (1 to ${MAX_BENCH_SIZE}), comma-separated`)
        .argParser(commaList(integerIn(1, MAX_BENCH_SIZE)))
        .default([...DEFAULT_SIZES], DEFAULT_SIZES.join(',')),
    )
    .option(
      '--algs <list>',
      'rows, comma-separated: nea1,nia1,nea2,nia2,nea3,nia3,baseline-nea2,baseline-nia2 ' +
        '(default: all of them); also nea2@node,nia2@node,nea2@ts,nia2@ts,nea2@noble,nia2@noble to compare AES backends, ' +
        'kdf,kdf@node for the key derivation (kdf@node also adds first-PDU rows with node:crypto derivation), ' +
        'source-auth for protect/unprotect with pairwise-mac and signature source authentication at group sizes 2-32',
      commaList(cryptoAlg),
    )
    .option('--json <file>', 'also write the results as JSON to <file>')
    .option('--min-time <ms>', 'measuring time per row in ms', positive(), 250)
    .option('--warmup <ms>', 'warm-up time per row in ms', positive(), 50)
    .option('--rounds <n>', 'interleaved rounds the measuring time of each row is split into (1 to 100; 6 or more for 95 % intervals)', integerIn(1, 100), REPETITIONS)
    .option('--no-stall-meter', "skip measuring this machine's stalls between the rounds (0.1 s each; gives the reliability verdict)")
    .option('--no-baseline', 'do not add baseline-nea2/baseline-nia2 when nea2/nia2 are selected')
    .option('--report <dir>', 'also write an SVG plot of cost against payload size with the fits to <dir>/crypto-cost.svg')
    .addHelpText(
      'after',
      `
Each row is one algorithm at one payload size, run through an engine built once per key with a
fresh COUNT per call. Calls are timed in batches of ~30 us (process.hrtime.bigint() around k
back-to-back calls); each batch gives one per-call sample. Each row's --min-time is split into
--rounds rounds run round-robin over all rows (a drift in load hits every row alike); each figure
is printed as the median over the rounds [95 % confidence interval]. Columns:
  p50_ns / p99_ns / p99.9_ns   per-call latency percentiles over the samples, in nanoseconds
  ops/s                        calls per second over the measured time
Then, per algorithm, a least-squares fit p50 = fixed_ns + ns/byte x size, and for nea2/nia2 the
ratio of their p50 to a naive baseline measured in the same run (baseline-nea2: a fresh
createCipheriv('aes-128-ctr') per packet; baseline-nia2: a fresh AES-CBC CMAC per packet), or
"no measurable difference" when its interval contains 1. A stall meter runs before each round:
more than 5 % of the time lost marks the run UNRELIABLE. Progress goes to stderr (one line), the
table to stdout. --json writes
  {"run":{...},"unreliable","stall_lost_pct","results":[{"name","size","p50_ns","p99_ns","p999_ns",
   "ops_per_s","ci":{"p50_ns":{"median","low","high","n","level"},...},"rounds":[...]},...],
   "fits":[...],"ratios":[...],"stalls":{...}}
(p50_ns etc. pooled over all rounds; ci: median over the rounds and its interval).
--report DIR writes DIR/crypto-cost.svg: p50 per call against payload size (log scale) per
algorithm with its interval, the fixed + per-byte fit drawn through the points, and the run's
metadata (date, host, CPU, Node, commit, flags) in the footer.

Examples:
  sl-bridge bench crypto
  sl-bridge bench crypto --sizes 128 --algs nea2,nia2 --json bench.json
  sl-bridge bench crypto --report report/
`,
    )
    .action(async (flags: BenchCryptoFlags) => {
      const { benchCrypto } = await import('../bench/crypto-run.js');
      await benchCrypto(flags);
    });

  bench
    .command('e2e')
    .description('one-way app-to-app latency through daemons over the medium emulator, security on vs off, swept over the offered load')
    .option('--ues <n>', 'UEs per stack (2..16)', integerIn(2, 16), 4)
    .addOption(
      new Option('--rates <list>', 'offered load: probes per second per UE (up to 100000), comma-separated')
        .argParser(commaList(positive({ max: 100_000 })))
        .default([500, 1000, 2000], '500,1000,2000'),
    )
    .option('--seconds <s>', 'traffic time per rate and per security mode (0.5 to 3600)', secondsIn(0.5, 3600), 5)
    .option('--sdu-bytes <n>', `probe SDU size in bytes (${MIN_PROBE_SDU_BYTES} to 9000)`, integerIn(MIN_PROBE_SDU_BYTES, 9000), 128)
    .addOption(
      new Option('--source-auth <mode>', "the group's source authentication in the security-on stack (docs/pdcp.md)")
        .choices(['none', 'pairwise-mac', 'signature'])
        .default('none'),
    )
    .option('--json <file>', 'write the results as JSON to <file>')
    .option('--report <dir>', 'write SVG plots to <dir>: latency-cdf.svg, latency-breakdown.svg')
    .option('--no-overhead', 'skip measuring the profiler overhead on protect/unprotect (about 10 s)')
    .option('--no-stall-meter', "skip measuring this machine's stalls before the run (2 s; gives the floor under the per-packet percentiles)")
    .option('--no-metrics', 'run the daemons without --metrics (no per-stage split)')
    .option(
      '--keep-warm <ms>',
      'latency mode: run every daemon (both stacks) with `--keep-warm MS`: a scratch SDU through the PDCP code every MS ms (docs/profiling.md, "Latency mode"; 0: off; below 1 only with --busy-poll)',
      numberIn(0, 60_000),
      0,
    )
    .option(
      '--busy-poll <us>',
      'latency mode: run every daemon (both stacks) with `--busy-poll US`: after each message the daemon polls instead of sleeping for US µs, warming every --keep-warm ms (needs --keep-warm; 0: off)',
      integerIn(0, 10_000_000),
      0,
    )
    .option('--keep', 'keep the temporary directory (configs, logs) and print its path')
    .addHelpText(
      'after',
      `
Starts the demo's testbed (PKI, home and visited PKMF) and two stacks side by side, each its own
processes: a medium emulator and N daemons with security on (128-NEA2/128-NIA2, keys from the
PKMF, --metrics), and a medium and N daemons with --security off. In this process, one probe
application per daemon sends SDUs of --sdu-bytes to the group at the given rate; every other UE
of the stack receives each one. For each rate, slices of at most 1 s (at least 6 per stack)
alternate between the two stacks in ABBA order until each had --seconds of traffic, so both see
the same machine at the same time.

Per rate and mode: sent, received, loss (expected copies - distinct received), one-way latency
p50/p99/p99.9 (receiving app's clock - sending app's clock), delivered copies per second, CPU of
the stack's daemons, its medium and this process (% of one core). Per rate: what security adds
(on - off at each percentile), protect / unprotect p50/p99 and the per-stage split from the
daemons' stage histograms, and the security layer's share of the mean one-way latency; next to
them the machine's floor for the same CPU time: what its stalls alone (measured for 2 s before
the run, see \`bench stalls\`) do to a protect and an unprotect of that p50 length.
Every figure is the median over the slices [95 % confidence interval]; on - off is taken per pair
of adjacent slices and printed as "no measurable difference (±x)" when its interval contains 0.
More than 5 % of the time lost to stalls marks the run UNRELIABLE (text, JSON, plots). The JSON
has a "run" object (date, host, CPU, Node, commit, flags) and per rate "ci" objects.
Progress on stderr (one line), the table on stdout. docs/profiling.md explains each figure: what
it includes and what it does not, and the statistics.

Examples:
  sl-bridge bench e2e
  sl-bridge bench e2e --ues 4 --rates 1000,2000,5000 --seconds 10 --json e2e.json --report e2e-report/
`,
    )
    .action(async (flags: BenchE2eFlags) => {
      const { benchE2e } = await import('../bench/e2e-run.js');
      await benchE2e(flags);
    });

  bench
    .command('scale')
    .description('the demo (PKMFs, medium, N daemons, N ranging apps) swept over the number of UEs and the request rate: round trips, throughput and CPU per process')
    .addOption(
      new Option('--ues <list>', 'numbers of UEs (2 to 32), comma-separated')
        .argParser(commaList(integerIn(2, 32)))
        .default([2, 4, 8, 16, 32], '2,4,8,16,32'),
    )
    .addOption(
      new Option('--rates <list>', 'ranging requests per second per UE (up to 1000), comma-separated; each is answered by every other UE')
        .argParser(commaList(positive({ max: 1000 })))
        .default([5, 20], '5,20'),
    )
    .option('--seconds <s>', 'measured traffic per point (1 to 3600)', secondsIn(1, 3600), 20)
    .option('--warmup <s>', 'traffic before the measured interval of each point, left out of every figure but the drop counts (0 to 600)', secondsIn(0, 600), 5)
    .option('--slices <n>', `slices each point's measured interval is cut into, the repetitions of the medians and intervals (1 to 100; ${REPETITIONS} or more for 95 % intervals)`, integerIn(1, 100), REPETITIONS)
    .addOption(new Option('--security <mode>', 'on: 128-NEA2/128-NIA2 from the PKMFs; off: the same path without PDCP protection; both: each point twice').choices(['on', 'off', 'both']).default('on'))
    .option('--json <file>', 'write the results as JSON to <file>')
    .option('--report <dir>', 'write SVG plots to <dir>: scale-rtt.svg (round trips, throughput), scale-cpu.svg (CPU per process)')
    .option('--no-stall-meter', "skip measuring this machine's stalls for 1 s before each point (gives the reliability verdict)")
    .option('--keep', "keep the temporary directory (each point's demo log and JSON) and print its path")
    .addHelpText(
      'after',
      `
Each point (N UEs at R requests/s per UE) is one \`sl-bridge demo --ues N --rate R --seconds S
--warmup W --slices K --json F\` child process: a temporary PKI, a home and a visited PKMF, the
medium emulator (no loss, no delay) and N daemons, each its own process, and N ranging
applications in the demo process. Every UE sends R requests/s to the group and answers every
request it hears, so the applications should receive R x N^2 x (N-1) SDUs/s in all: the load
grows with the cube of N. The demo cuts its measured interval into K slices; every figure below
is the median over the slices [95 % confidence interval]. The stall meter runs for 1 s before
each point; more than 5 % of the time lost marks a point (!) and, over all points, the run
UNRELIABLE. Points run one after another: the default sweep takes about 6 minutes.

Round trips and throughput, per rate and number of UEs:
  RTT p50 / p99 ms   ranging round trip measured by the requester (its clock at the answer minus
                     at the request), every UE pooled: app -> daemon (protect) -> medium ->
                     daemon (unprotect) -> app, and back
  RTTs               round trips measured over the whole measured interval
  sent/s             SDUs the ranging applications sent per second (requests and answers)
  of asked           sent / (R x N^2): below 100 % the applications fell behind their own pace
                     (the demo process runs them all and did not get the CPU to keep it)
  delivered/s        SDUs the daemons delivered to the ranging applications per second
  reached            delivered / (sent x (N-1)): the share of what was sent that reached every
                     other application
  answered           answers received / (requests sent x (N-1)), warm-up included
  heard all          every UE received SDUs from every other UE (the demo's check)
  drops              every daemon's drops by reason, warm-up included (app-hwm: the ranging
                     application did not read its socket fast enough; medium-queue-full: a
                     daemon did not read the medium fast enough)
CPU, % of one core (a 2-core machine has 200), per process kind:
  daemon mean / max  one daemon: the mean over the daemons, and the busiest one
  daemons            all daemons together
  medium, PKMFs      the medium emulator; the home and visited PKMF together
  apps               the demo process, which runs every ranging application
  machine            every CPU of the machine busy (/proc/stat), other people's processes included
  not ours           machine minus this sweep's processes: what else ran meanwhile
  stalls lost        time the stall meter found lost before the point; (!) above 5 %
--json writes {"run":{...},"unreliable","stall_lost_pct","settings","machine","points":[{"ues",
"rate_per_ue","security","ok","all_heard_all","offered","rtt_us":{"pooled","ci":{"p50","p99"}},
"delivered_pps","sent_pps","cpu_pct":{"pooled","ci"},"drops",...}]} (ci: {median, low, high, n,
level} over the slices). docs/profiling.md, "Scale with the number of UEs".

Examples:
  sl-bridge bench scale
  sl-bridge bench scale --ues 2,8,32 --rates 5 --seconds 30 --json scale.json --report scale/
`,
    )
    .action(async (flags: BenchScaleFlags) => {
      const { benchScale } = await import('../bench/scale-run.js');
      await benchScale(flags);
    });

  bench
    .command('stalls')
    .description("measure how often this machine takes the CPU away from a running thread, and the floor that puts under a short computation's p99")
    .option('--seconds <s>', 'how long to measure, 0.1 to 600 (spins one core all that time)', secondsIn(0.1, 600), 3)
    .addOption(
      new Option('--cpu-us <list>', 'CPU times (µs, up to 10000) of the computations to give the floor for, comma-separated')
        .argParser(commaList(positive({ max: 10_000 })))
        .default([2, 5, 10, 20], '2,5,10,20'),
    )
    .option(
      '--after-sleep <us>',
      'also time single calls (a register-only spin, a 128-byte protect and unprotect) right after sleeping this long (up to 100000 µs), and back to back',
      positive({ max: 100_000 }),
    )
    .addOption(
      new Option(
        '--after-spin <us>',
        'the same with the gap spent spinning on the clock instead of sleeping (up to 100000 µs): the thread never leaves the CPU, so what a call loses is lost to the time alone',
      )
        .argParser(positive({ max: 100_000 }))
        .conflicts('afterSleep'),
    )
    .option('--samples <n>', 'calls per op and mode for --after-sleep / --after-spin (100 to 1000000)', integerIn(100, 1_000_000), 5000)
    .option('--json <file>', 'also write the results as JSON to <file>')
    .addHelpText(
      'after',
      `
A loop reads the clock (performance.now(), ~50 ns a reading) for --seconds; every gap between two
readings longer than 2 µs is a stall: the thread was not running (another thread, an interrupt,
or in a virtual machine the hypervisor running something else). Prints stalls per second by
length and the share of time lost, then for each --cpu-us D the wall-clock p50/p99/p99.9 of a
computation needing D µs of CPU started at a random moment of the recorded timeline: no code
path of that length can have lower wall-clock percentiles on this machine. The time is measured
in 6 windows: each figure is the median over them [95 % confidence interval]. More than 5 % of
the time lost marks this machine's benchmark runs UNRELIABLE. Run it on an idle
machine to judge whether it can show a latency target (bench e2e measures it before its run),
or beside a load to see what the load adds. --after-sleep US adds what the floor cannot see:
the cost of waking up (cold caches, a vCPU the host gave away), as each daemon call after an
idle gap pays it; --after-spin US the cost of the gap's length alone (the thread spins on the
clock meanwhile: what latency mode's busy-poll keeps). docs/profiling.md, "the machine's floor".

Examples:
  sl-bridge bench stalls
  sl-bridge bench stalls --seconds 10 --cpu-us 4,8 --json stalls.json
  sl-bridge bench stalls --after-sleep 500
  sl-bridge bench stalls --after-spin 10000 --samples 600
`,
    )
    .action(async (flags: BenchStallsFlags) => {
      const { benchStalls } = await import('../bench/stalls-run.js');
      benchStalls(flags);
    });
}
