/**
 * sl-bridge over a real open-source sidelink stack: `sl-bridge interop oai` with two
 * OpenAirInterface NR sidelink UEs (EpiSci sl-release-1.0, built by interop/oai-sl/build.sh) over
 * the RF simulator, in network namespaces, both paths (TUN and PDCP). Nothing is simulated on our
 * side: OAI's PHY, MAC, RLC and PDCP carry the PDUs.
 *
 * Needs the OAI build (SL_BRIDGE_OAI_BUILD=<build.sh's output folder>; `.ci/run` builds it and
 * sets SL_BRIDGE_REQUIRE_OAI=1, so a missing build fails CI instead of skipping) and root.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { netnsProblem } from '../../bridge/interop/netns.js';
import type { OaiInteropResult } from '../../bridge/interop/oai-run.js';

const build = process.env.SL_BRIDGE_OAI_BUILD;
const required = process.env.SL_BRIDGE_REQUIRE_OAI === '1';
const problem = build ? netnsProblem() : 'SL_BRIDGE_OAI_BUILD is not set (npm run interop:oai:build prints the folder)';
if (problem && !required) console.warn(`test/integration/oai-interop.test.ts skipped: ${problem}`);

describe.skipIf(problem !== undefined && !required)('sl-bridge over OpenAirInterface NR sidelink', () => {
  it('protected ranging between two real OAI UEs: TUN path (capture holds no plaintext) and PDCP path (tamper, replay, daemon restart)', async () => {
    expect(problem, 'the OAI interop test is required here').toBeUndefined();
    const dir = mkdtempSync(join(tmpdir(), 'slb-oai-test-'));
    try {
      const json = join(dir, 'oai.json');
      const args = ['bin/sl-bridge.js', 'interop', 'oai', '--oai-build', build!, '--seconds', '6', '--rate', '10', '--rounds', '2', '--json', json];
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        process.stdout.write(d);
      });
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((r) => child.once('close', r));
      const lines = out.trimEnd().split('\n');
      const last = lines.at(-1)!;
      expect(code, out.slice(-3000)).toBe(0);
      const m = /^oai interop: tun (\d+)\/(\d+) delivered, pdcp (\d+)\/(\d+) delivered$/.exec(last);
      expect(m, last).not.toBeNull();
      const r = JSON.parse(readFileSync(json, 'utf8')) as OaiInteropResult;
      expect(r.ok).toBe(true);
      const tun = r.paths.find((p) => p.path === 'tun')!;
      const pdcp = r.paths.find((p) => p.path === 'pdcp')!;
      expect([tun.delivered, tun.sent, pdcp.delivered, pdcp.sent]).toEqual(m!.slice(1).map(Number));

      for (const p of [tun, pdcp]) {
        expect(p.problems).toEqual([]);
        expect(p.sent).toBeGreaterThan(0);
        // OAI's sidelink over the RF simulator loses little (seen: 0-2 PDUs in ~240 per round), and
        // every missing ranging SDU is one OAI lost (`problems` says otherwise: sent - delivered
        // above lostBelow). At least 95 % of the protected ranging SDUs arrive.
        expect(p.delivered / p.sent).toBeGreaterThanOrEqual(0.95);
        for (const round of p.rounds) {
          expect(round.sent - round.delivered, `${p.path} round ${round.round} ${round.security}: missing beyond OAI's losses`).toBeLessThanOrEqual(round.lostBelow);
          expect(round.ping.received, `${p.path} round ${round.round} ${round.security}: ping`).toBeGreaterThan(0);
          for (const d of round.daemons) if (round.security === 'on') expect(d.securityDrops, JSON.stringify(d.dropped)).toBe(0);
          for (const d of round.daemons) if (round.security === 'on') expect(d.protect.count).toBeGreaterThan(0);
        }
        expect(p.rounds.filter((x) => x.security === 'off').length).toBe(2);
      }
      // TUN path: bare OAI answers ping; the capture on oaitun_ue1 is all sl-bridge PDUs, every one
      // deciphered by `pdu decode` with UE 1's keylog, and none of the SDUs appears in clear.
      expect(tun.floorPing.received).toBeGreaterThan(0);
      expect(tun.capture!.datagrams).toBeGreaterThan(0);
      expect(tun.capture!.accepted).toBe(tun.capture!.datagrams);
      expect(tun.capture!.sdusChecked).toBe(tun.capture!.accepted);
      expect(tun.capture!.plaintextFound).toBe(0);
      // PDCP path: an altered PDU and a repeated one, after OAI carried them, are dropped by reason;
      // a daemon killed and restarted does not take OAI down and traffic resumes.
      expect(pdcp.attacks).toMatchObject({ tampered: 1, macFailures: 1, replayed: 1, replayDrops: 1 });
      expect(pdcp.restart!.oaiKeptRunning).toBe(true);
      expect(pdcp.restart!.deliveredAfterRestart).toBeGreaterThan(0);
      expect(pdcp.glue!.every((l) => l.startsWith('sl-bridge glue:'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 20 * 60_000);
});
