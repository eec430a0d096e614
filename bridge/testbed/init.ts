/**
 * `sl-bridge init DIR`: a testbed people run by hand or with DIR/testbed.sh. Writes the PKIs and
 * configs (generate.ts, paths relative to DIR, fixed ports from --base-port), START.md with the
 * commands in start order, testbed.sh (start / status / stop) and prometheus.yml, which scrapes
 * every process of it (the metrics deploy/grafana/sl-bridge.json shows).
 */
import { chmodSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { hex24 } from '../../src/pkmf/identity.js';
import { slBridgeBin } from '../demo/children.js';
import { shellWord } from './shell.js';
import { lastPort, writeTestbed, type Testbed } from './generate.js';
import { LOOPBACK_HOST } from './host.js';

export interface InitOptions {
  dir: string;
  ues: number;
  operators: number;
  roaming: boolean;
  profile: string;
  basePort: number;
  /** Address of the machine running the medium and the PKMFs (generate.ts `host`). */
  host: string;
  /** Ranging requests per second each application sends (testbed.sh start). */
  rate: number;
  force: boolean;
}

export class InitError extends Error {}

export interface InitResult {
  testbed: Testbed;
  files: string[];
}

/** One process of the testbed: its name (pid file, log) and `sl-bridge` arguments, run from DIR. */
interface Proc {
  name: string;
  args: string[];
  /** A line in its log that says it is ready. */
  readyLine?: string;
  /** Its stdout goes to logs/NAME.jsonl (status lines), stderr to logs/NAME.log. */
  jsonl?: boolean;
}

/** Only the emulator profile reaches the medium; other profiles name their stack themselves. */
const usesMedium = (opts: InitOptions): boolean => opts.profile === 'emulator';

const metricsArgs = (listen: string | undefined): string[] => (listen === undefined ? [] : ['--metrics', listen]);

function processes(tb: Testbed, opts: InitOptions): { services: Proc[]; apps: Proc[] } {
  const services: Proc[] = [];
  if (usesMedium(opts)) services.push({ name: 'medium', args: ['medium', '--endpoint', tb.mediumEndpoint, ...metricsArgs(tb.mediumMetrics)], readyLine: 'medium: listening' });
  for (const p of tb.pkmfs) services.push({ name: p.name, args: ['pkmf', '--config', `${p.name}.yaml`, ...metricsArgs(p.metrics)], readyLine: 'PKMF listening' });
  for (const ue of tb.ues) {
    const args = ['run', '--profile', opts.profile, '--config', `${ue.id}.yaml`, '--status-interval', '1', ...metricsArgs(ue.metrics)];
    services.push({ name: ue.id, args, jsonl: true });
  }
  const apps = tb.ues.map((ue) => ({
    name: `app-${ue.id}`,
    args: ['app', 'ranging', '--endpoint', ue.appEndpoint, '--group', `0x${hex24(tb.group)}`, '--rate', '${RATE}', '--name', ue.id],
    jsonl: true,
  }));
  return { services, apps };
}

/** Shell words of testbed.sh; the rate is the script's variable. */
const scriptWord = (w: string): string => (w === '${RATE}' ? '"$RATE"' : shellWord(w));

function startMd(tb: Testbed, opts: InitOptions, procs: { services: Proc[]; apps: Proc[] }): string {
  const cmd = (p: Proc): string => `sl-bridge ${p.args.map((a) => (a === '${RATE}' ? String(opts.rate) : shellWord(a))).join(' ')}`;
  const ueLines = tb.ues.map((u) => `| ${u.id} | ${u.supi} | ${u.homePlmn} | ${u.servingPlmn}${u.roaming ? ' (roaming)' : ''} | \`${u.appEndpoint}\` | \`${u.metrics ?? '-'}\` |`);
  return `# sl-bridge testbed

Written by \`sl-bridge init ${opts.dir} --ues ${opts.ues}${opts.operators > 1 ? ` --operators ${opts.operators}` : ''}${opts.roaming ? ' --roaming' : ''} --profile ${opts.profile} --base-port ${opts.basePort}${opts.host === LOOPBACK_HOST ? '' : ` --host ${opts.host}`}\`.
Group 0x${hex24(tb.group)} (128-NEA2 / 128-NIA2), owned by operator ${tb.pkmfs[0]!.plmn}.
${opts.host === LOOPBACK_HOST ? '' : multiHostNote(opts.host)}
| UE | SUPI | home | served by | application endpoint | metrics |
|----|------|------|-----------|----------------------|---------|
${ueLines.join('\n')}

## All at once

    ./testbed.sh start          # everything below, in the background; logs in logs/
    ./testbed.sh status         # per UE: running, PDUs sent, SDUs received (--json for a script)
    ./testbed.sh stop

\`RATE=50 ./testbed.sh start\` changes the ranging requests per second (default ${opts.rate}).
\`SL_BRIDGE="node /path/to/bin/sl-bridge.js" ./testbed.sh ...\` picks another sl-bridge.

## By hand, one terminal each, in this order (from this directory)

\`sl-bridge\` is \`npx sl-bridge\` inside the clone, or on the PATH after \`npm link\` there.

${procs.services.map((p, i) => `${i + 1}. ${describe(p)}\n\n       ${cmd(p)}\n`).join('\n')}
${procs.apps.map((p, i) => `${procs.services.length + i + 1}. the ranging application of ${p.name.slice(4)}\n\n       ${cmd(p)}\n`).join('\n')}
Each daemon prints a JSON status line every second; \`"keys":{"ready":true}\` means it holds the
group's keys, \`counters.delivered\` counts SDUs handed to its application. Daemons, PKMFs and the
medium stop cleanly on Ctrl-C. State (PTK IDs, replay floors, keys, PKMF databases) is in state/:
keep it between runs, it is what keeps a restarted daemon from reusing a COUNT under one key.

Prometheus: \`prometheus --config.file=prometheus.yml\` scrapes every daemon (the metrics column above),
${serviceMetrics(tb, opts)}.
Its Grafana dashboard is deploy/grafana/sl-bridge.json in the sl-bridge repository
(deploy/grafana/README.md says how to import it).
`;
}

/** START.md's paragraph for a testbed spread over several machines (docs/deployment.md). */
function multiHostNote(host: string): string {
  return `
Several machines: the medium and the PKMFs run on ${host} (they listen on that address; the PKMF
certificates name it). A daemon and its ranging application run on any machine that reaches
${host}: copy there, keeping the paths, only what its UE needs (UE.yaml, pki/opK/UE.crt and UE.key,
pki/opK/ca.crt; never ca.key or pkmf.key) and start both from that directory; state/UE then lives
on that machine. Open the medium's and the PKMFs' ports on ${host} to the daemons' machines.
`;
}

function serviceMetrics(tb: Testbed, opts: InitOptions): string {
  const pkmfs = `the PKMFs (${tb.pkmfs.map((p) => `${p.name} \`${p.metrics ?? '-'}\``).join(', ')})`;
  return usesMedium(opts) ? `the medium (\`${tb.mediumMetrics ?? '-'}\`) and ${pkmfs}` : pkmfs;
}

function describe(p: Proc): string {
  if (p.name === 'medium') return 'the sidelink medium emulator (daemons attach to it)';
  if (p.name.startsWith('pkmf-')) return `the PKMF of operator ${p.args[2]!.replace(/^pkmf-|\.yaml$/g, '')}`;
  return `the daemon of ${p.name}`;
}

function testbedSh(procs: { services: Proc[]; apps: Proc[] }, opts: InitOptions): string {
  const line = (p: Proc): string => `  launch ${p.name} ${p.jsonl ? 'jsonl' : 'log'} ${p.readyLine ? shellWord(p.readyLine) : '-'} ${p.args.map(scriptWord).join(' ')}`;
  const all = [...procs.services, ...procs.apps].map((p) => p.name);
  const ues = procs.services.filter((p) => p.jsonl).map((p) => p.name);
  return `#!/usr/bin/env bash
# Written by \`sl-bridge init\`: ./testbed.sh start | status [--json] | stop
# start: medium, PKMFs, daemons, then one ranging application per UE, in the background
#        (pids in run/, logs in logs/: NAME.log, and the status / stats lines in NAME.jsonl).
# status: per UE whether its daemon runs and its last status line's PDUs sent and SDUs received.
# stop: SIGTERM in reverse start order, SIGKILL what is left after 10 s.
set -euo pipefail
cd "$(dirname "$0")"
read -r -a SLB <<<"\${SL_BRIDGE:-${shellWord(process.execPath)} ${shellWord(slBridgeBin())}}"
RATE=\${RATE:-${opts.rate}}
ALL=(${all.join(' ')})
UES=(${ues.join(' ')})

# A pid file counts only while its process is alive and is sl-bridge (pids get reused).
alive() {
  local f=run/$1.pid pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  kill -0 "$pid" 2>/dev/null && tr '\\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q sl-bridge
}

# launch NAME log|jsonl READY-LINE|- ARGS...
launch() {
  local name=$1 mode=$2 ready=$3 out err
  shift 3
  if alive "$name"; then echo "$name: already running (pid $(cat "run/$name.pid"))"; return; fi
  err=logs/$name.log
  out=$err
  [ "$mode" = jsonl ] && out=logs/$name.jsonl
  : >"$err"
  nohup "\${SLB[@]}" "$@" >>"$out" 2>>"$err" </dev/null &
  echo $! >"run/$name.pid"
  if [ "$ready" != - ]; then
    for _ in $(seq 100); do
      grep -q "$ready" "$err" && break
      alive "$name" || { echo "$name: exited at start; see $err" >&2; tail -n 5 "$err" >&2; exit 1; }
      sleep 0.1
    done
  fi
  echo "$name: started (pid $(cat "run/$name.pid"))"
}

start() {
  mkdir -p logs run
${procs.services.map(line).join('\n')}
${procs.apps.map(line).join('\n')}
  echo "testbed: started; ./testbed.sh status shows the traffic"
}

status() {
  local json=0 running=()
  [ "\${1:-}" = --json ] && json=1
  for ue in "\${UES[@]}"; do
    if alive "$ue"; then running+=(1); else running+=(0); fi
  done
  node - "$json" "\${UES[*]}" "\${running[*]}" <<'NODE'
const fs = require('node:fs');
const [json, names, running] = process.argv.slice(2);
const run = running.split(' ');
const ues = names.split(' ').map((id, i) => {
  let last;
  try {
    const lines = fs.readFileSync(\`logs/\${id}.jsonl\`, 'utf8').trim().split('\\n');
    last = JSON.parse(lines[lines.length - 1]);
  } catch {}
  return { id, running: run[i] === '1', keysReady: last?.keys?.ready ?? false, sent: last?.counters?.pdusOut ?? 0, received: last?.counters?.delivered ?? 0 };
});
if (json === '1') console.log(JSON.stringify({ ues }));
else for (const u of ues) console.log(\`\${u.id.padEnd(6)} \${u.running ? 'running' : 'stopped'}  keys \${u.keysReady ? 'ready' : 'not ready'}  sent \${u.sent}  received \${u.received}\`);
NODE
}

stop() {
  local names=() pids=() i
  for ((i = \${#ALL[@]} - 1; i >= 0; i--)); do
    if alive "\${ALL[i]}"; then names+=("\${ALL[i]}"); pids+=("$(cat "run/\${ALL[i]}.pid")"); kill -TERM "\${pids[-1]}" 2>/dev/null || true; fi
  done
  for _ in $(seq 100); do
    local left=0
    for p in "\${pids[@]}"; do kill -0 "$p" 2>/dev/null && left=1; done
    [ $left = 0 ] && break
    sleep 0.1
  done
  for i in "\${!pids[@]}"; do
    if kill -0 "\${pids[i]}" 2>/dev/null; then echo "\${names[i]}: killed (did not stop in 10 s)"; kill -KILL "\${pids[i]}" 2>/dev/null || true; fi
  done
  rm -f run/*.pid
  echo "testbed: stopped \${#pids[@]} processes"
}

case "\${1:-}" in
  start) start ;;
  status) status "\${2:-}" ;;
  stop) stop ;;
  *) echo "usage: $0 start | status [--json] | stop" >&2; exit 2 ;;
esac
`;
}

/** Prometheus jobs: the daemons, the medium (emulator profile) and the PKMFs, by their metrics addresses. */
function metricsTargets(tb: Testbed, opts: InitOptions): { job: string; targets: string[] }[] {
  const defined = (list: (string | undefined)[]): string[] => list.filter((t): t is string => t !== undefined);
  return [
    { job: 'sl-bridge-daemons', targets: defined(tb.ues.map((u) => u.metrics)) },
    { job: 'sl-bridge-medium', targets: usesMedium(opts) ? defined([tb.mediumMetrics]) : [] },
    { job: 'sl-bridge-pkmf', targets: defined(tb.pkmfs.map((p) => p.metrics)) },
  ].filter((j) => j.targets.length > 0);
}

function prometheusYml(tb: Testbed, opts: InitOptions): string {
  const jobs = metricsTargets(tb, opts).map(
    (j) => `  - job_name: ${j.job}
    static_configs:
      - targets:
${j.targets.map((t) => `          - ${t}`).join('\n')}`,
  );
  return `# Written by \`sl-bridge init\`: prometheus --config.file=prometheus.yml
# Grafana dashboard: deploy/grafana/sl-bridge.json in the sl-bridge repository.
global:
  scrape_interval: 5s
scrape_configs:
${jobs.join('\n')}
`;
}

export async function initTestbed(opts: InitOptions): Promise<InitResult> {
  const dir = resolve(opts.dir);
  if (existsSync(dir) && readdirSync(dir).length > 0 && !opts.force) {
    throw new InitError(`${opts.dir} exists and is not empty (--force writes into it anyway, replacing the testbed's files)`);
  }
  if (opts.basePort < 1024 || lastPort(opts.basePort, opts.ues, opts.operators) > 65535) {
    throw new InitError(`--base-port: ports ${opts.basePort}..${lastPort(opts.basePort, opts.ues, opts.operators)} must lie within 1024..65535`);
  }
  const testbed = await writeTestbed({
    dir,
    ues: opts.ues,
    operators: opts.operators,
    roaming: opts.roaming,
    spread: true,
    profile: opts.profile,
    ports: { base: opts.basePort },
    host: opts.host,
  });
  const procs = processes(testbed, opts);
  const files = [join(dir, 'START.md'), join(dir, 'testbed.sh'), join(dir, 'prometheus.yml')];
  writeFileSync(files[0]!, startMd(testbed, opts, procs));
  writeFileSync(files[1]!, testbedSh(procs, opts));
  chmodSync(files[1]!, 0o755);
  writeFileSync(files[2]!, prometheusYml(testbed, opts));
  return { testbed, files };
}
