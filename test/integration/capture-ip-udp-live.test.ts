/**
 * Real parts: two `sl-bridge run` daemons (real PKMF over TLS, real PKI) exchanging protected PDUs
 * over the `udp` stack transport (hw-profiles/oai-nr-sl-tun.yaml pointed at the loopback interface,
 * a multicast group and port of the test's own), each with `--keylog`; tshark captures the
 * interface (`tshark -i lo -F pcap -w FILE -f 'udp port P'`, Ethernet link type) while the
 * applications send SDUs that start with a distinctive 32-byte pattern. Then:
 * - `sl-bridge pdu decode --pcap FILE --keylog ue1.keys --udp-port P` deciphers and verifies every
 *   captured datagram, and the SDUs it prints are byte for byte those the applications sent, each
 *   once, with the sender's GMI, IP source and UDP port;
 * - the pattern (and every SDU) appears nowhere in the raw capture file: no plaintext crossed the
 *   interface;
 * - the same capture rewritten as LINKTYPE_RAW (each record without its 14-octet Ethernet header,
 *   what tshark writes on a TUN interface such as oaitun_ue1) decodes to the same frames;
 * - with another --udp-port every datagram is skipped and counted, not decoded.
 *
 * Needs tshark (Debian package `tshark`; CI installs it) and the right to capture on `lo` (root).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaemonProcess, DaemonTestbed, GROUP, TestApp, waitUntil } from '../fixtures/daemon-testbed.js';
import { Cleanups, gmiOf, profileFrom, stopDaemon, ueConfig } from '../fixtures/integration-helpers.js';
import { BIN, tmpDir } from '../fixtures/pkmf-testbed.js';

/** 32 bytes no SDU, header or key would contain by chance. */
const CANARY = createHash('sha256').update('sl-bridge interface-capture plaintext canary').digest();
const PER_UE = 40;

const cleanups = new Cleanups();
afterAll(() => cleanups.run());

interface Side {
  tag: string;
  daemon: DaemonProcess;
  app: TestApp;
  gmi: string;
  keylog: string;
  sent: Buffer[];
}

interface FrameJson {
  frame: number;
  direction?: string;
  ipVersion?: number;
  ipSource?: string;
  ipDestination?: string;
  udpSourcePort?: number;
  udpDestinationPort?: number;
  l2SourceId?: string;
  l2DestinationId?: string;
  seq?: number;
  pgkId?: number;
  sdu?: string;
  dropped?: string;
  skipped?: string;
  malformed?: string;
}

let dir: string;
let group: string;
let port: number;
let sides: Side[] = [];

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const { port: p } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

/** tshark capturing `lo` into a classic pcap; resolves once it says it is capturing. */
async function startTshark(file: string, filter: string): Promise<ChildProcess> {
  const child = spawn('tshark', ['-i', 'lo', '-F', 'pcap', '-w', file, '-f', filter], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tshark did not start capturing within 20 s:\n${err}`)), 20_000);
    child.once('error', (e) => reject(new Error(`tshark cannot run (apt-get install -y tshark): ${e.message}`)));
    child.once('exit', (code) => reject(new Error(`tshark exited (${code}) before capturing:\n${err}`)));
    child.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      if (/Capturing on/.test(err)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.removeAllListeners('exit');
  return child;
}

async function stopTshark(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT'); // tshark flushes and closes the file on SIGINT
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function decode(pcap: string, keylog: string, ...more: string[]): { frames: FrameJson[]; summary: string; status: number | null; stdout: string } {
  const r = spawnSync(process.execPath, [BIN, 'pdu', 'decode', '--pcap', pcap, '--keylog', keylog, ...more], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const json = more.includes('--json');
  const lines = r.stdout.trimEnd().split('\n').filter((l) => l !== '');
  return { frames: json ? lines.map((l) => JSON.parse(l) as FrameJson) : [], summary: r.stderr.trim(), status: r.status, stdout: r.stdout };
}

/** The capture with its link type set to LINKTYPE_RAW and every record without its first `strip` octets. */
function rewriteAsRaw(bytes: Buffer, strip: number, linkType = 101): Buffer {
  const le = bytes.readUInt32LE(0) === 0xa1b2c3d4 || bytes.readUInt32LE(0) === 0xa1b23c4d;
  const u32 = (b: Buffer, at: number): number => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  const put = (b: Buffer, v: number, at: number): void => void (le ? b.writeUInt32LE(v, at) : b.writeUInt32BE(v, at));
  const parts: Buffer[] = [];
  const header = Buffer.from(bytes.subarray(0, 24));
  put(header, linkType, 20);
  parts.push(header);
  for (let at = 24; at < bytes.length; ) {
    const incl = u32(bytes, at + 8);
    const orig = u32(bytes, at + 12);
    const rec = Buffer.from(bytes.subarray(at, at + 16));
    put(rec, incl - strip, 8);
    put(rec, orig - strip, 12);
    parts.push(rec, bytes.subarray(at + 16 + strip, at + 16 + incl));
    at += 16 + incl;
  }
  return Buffer.concat(parts);
}

beforeAll(async () => {
  const probe = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
  if (probe.error) throw new Error('tshark is not installed: `apt-get install -y tshark` (CI installs it)');
  const t = tmpDir('slb-ip-udp-live-');
  cleanups.add('temp dir', t, (x) => x.cleanup());
  dir = t.dir;
  group = `239.255.${randomInt(1, 255)}.${randomInt(1, 255)}`;
  port = await freeUdpPort();

  const tb = cleanups.add('testbed', await DaemonTestbed.create(dir, 2), (x) => x.close());
  await tb.startPkmf();
  const tshark = await startTshark(join(dir, 'lo.pcap'), `udp port ${port}`);
  cleanups.add('tshark', tshark, stopTshark);

  // The shipped OAI TUN profile, on lo with the test's own group and port.
  const profile = profileFrom('oai-nr-sl-tun', join(dir, 'udp-lo.yaml'), { group, port, interface: 'lo', loopback: true });
  sides = await Promise.all(
    [1, 2].map(async (n) => {
      const ue = await ueConfig(tb, n);
      const keylog = join(dir, `ue${n}.keys`);
      const daemon = cleanups.add(`daemon ue${n}`, new DaemonProcess(ue, ['--profile', profile, '--keylog', keylog]), stopDaemon);
      return { tag: `ue${n}`, daemon, app: undefined as unknown as TestApp, gmi: '', keylog, sent: [] };
    }),
  );
  for (const s of sides) {
    const st = await s.daemon.waitFor((x) => x.keys.ready && x.stack.linkUp, 'keys and the multicast group joined on lo', 30_000);
    expect(st.stack.kind).toBe('udp');
    s.gmi = gmiOf(st);
    s.app = cleanups.add(`app ${s.tag}`, await new TestApp(s.daemon.ue.appEndpoint).open(), (a) => a.close());
    await s.daemon.waitFor((x) => x.app.peers === 1, 'the application attached');
  }

  // Both applications send; each SDU is the canary then "tag:n".
  for (let n = 0; n < PER_UE; n++) {
    for (const s of sides) {
      const sdu = Buffer.concat([CANARY, Buffer.from(`${s.tag}:${n}`)]);
      s.sent.push(sdu);
      expect(s.app.transport.send({ kind: 'send', groupId: GROUP, sduType: 1, sdu, appSeq: n, appTimeNs: 0n })).toBe('accepted');
    }
    if (n % 5 === 4) await new Promise((r) => setTimeout(r, 10));
  }
  const [a, b] = sides as [Side, Side];
  await waitUntil(() => a.app.deliveries.length >= PER_UE && b.app.deliveries.length >= PER_UE, `${PER_UE} SDUs at each application`);
  await new Promise((r) => setTimeout(r, 300)); // let tshark write the last datagrams
  await stopTshark(tshark);
  for (const s of sides) {
    const st = await s.daemon.fresh();
    expect(st.counters.pdusOut).toBe(PER_UE);
    expect(st.securityDrops).toBe(0);
  }
}, 90_000);

describe('pdu decode of a tshark capture on the interface of the udp stack transport', () => {
  it('the applications got each other SDUs intact (the set-up works)', () => {
    const [a, b] = sides as [Side, Side];
    for (const [rx, tx] of [
      [a, b],
      [b, a],
    ] as const) {
      expect(rx.app.deliveries.map((d) => Buffer.from(d.sdu).toString('hex'))).toEqual(tx.sent.map((x) => x.toString('hex')));
    }
  });

  it('deciphers and verifies every captured datagram to the SDUs the applications sent, each once, with who sent it', () => {
    const { frames, summary, status } = decode(join(dir, 'lo.pcap'), sides[0]!.keylog, '--udp-port', String(port), '--json');
    expect(status).toBe(0);
    // Each datagram is on the capture once (lo carries it once; the looped-back copy is not tapped).
    expect(frames).toHaveLength(2 * PER_UE);
    expect(frames.filter((f) => f.sdu === undefined)).toEqual([]);
    expect(summary).toBe(`${2 * PER_UE} frames: ${2 * PER_UE} deciphered and verified, 0 dropped`);
    for (const s of sides) {
      const mine = frames.filter((f) => f.l2SourceId === s.gmi);
      // Byte for byte, in the order sent, each SDU once.
      expect(mine.map((f) => f.sdu)).toEqual(s.sent.map((x) => x.toString('hex')));
      // Decoded as a receiver would; the IP/UDP fields name the sender: one source address and port per daemon.
      expect(new Set(mine.map((f) => f.direction))).toEqual(new Set(['rx']));
      expect(new Set(mine.map((f) => `${f.ipVersion} ${f.ipSource}:${f.udpSourcePort} -> ${f.ipDestination}:${f.udpDestinationPort}`)).size).toBe(1);
      expect(mine[0]).toMatchObject({ ipVersion: 4, ipSource: '127.0.0.1', ipDestination: group, udpDestinationPort: port, l2DestinationId: GROUP.toString(16).padStart(6, '0') });
      expect(mine.map((f) => f.seq)).toEqual(mine.map((_, i) => i));
    }
    const ports = sides.map((s) => frames.find((f) => f.l2SourceId === s.gmi)!.udpSourcePort);
    expect(ports[0]).not.toBe(ports[1]);
    // ue2's keylog holds the same PGK: the same result.
    expect(decode(join(dir, 'lo.pcap'), sides[1]!.keylog, '--udp-port', String(port), '--json').frames).toEqual(frames);
  });

  it('no plaintext crossed the interface: the 32-byte pattern and the SDUs appear nowhere in the raw capture file', () => {
    const raw = readFileSync(join(dir, 'lo.pcap'));
    expect(raw.length).toBeGreaterThan(24 + 2 * PER_UE * (16 + 14 + 20 + 8 + CANARY.length));
    expect(raw.indexOf(CANARY)).toBe(-1);
    // Nor any 8-octet piece of it, nor the "tag:n" tails.
    for (let i = 0; i + 8 <= CANARY.length; i++) expect(raw.indexOf(CANARY.subarray(i, i + 8)), `canary octets ${i}..${i + 7}`).toBe(-1);
    for (const s of sides) for (const sdu of s.sent) expect(raw.indexOf(sdu.subarray(CANARY.length))).toBe(-1);
  });

  it('the text form: one line per datagram with its IP source and destination, a summary on stderr', () => {
    const r = decode(join(dir, 'lo.pcap'), sides[0]!.keylog, '--udp-port', String(port));
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2 * PER_UE);
    const line = new RegExp(`^frame (\\d+) rx from=127\\.0\\.0\\.1:\\d+ to=${group.replace(/\./g, '\\.')}:${port} src=[0-9a-f]{6} dst=[0-9a-f]{6} sdu_type=non-ip pgk_index=\\d+ ptk_id=\\d+ sn=\\d+ pgk_id=\\d+ sdu=[0-9a-f]+$`);
    expect(lines.filter((l, i) => !line.test(l) || !l.startsWith(`frame ${i + 1} `))).toEqual([]);
    expect(r.summary).toBe(`${2 * PER_UE} frames: ${2 * PER_UE} deciphered and verified, 0 dropped`);
  });

  it('the same capture as LINKTYPE_RAW (what tshark writes on a TUN interface) decodes to the same frames', () => {
    const eth = readFileSync(join(dir, 'lo.pcap'));
    expect(eth.readUInt32LE(20) & 0xffff).toBe(1); // lo captures as Ethernet
    writeFileSync(join(dir, 'raw.pcap'), rewriteAsRaw(eth, 14));
    const want = decode(join(dir, 'lo.pcap'), sides[0]!.keylog, '--udp-port', String(port), '--json').frames;
    const got = decode(join(dir, 'raw.pcap'), sides[0]!.keylog, '--udp-port', String(port), '--json');
    expect(got.status).toBe(0);
    expect(got.summary).toBe(`${2 * PER_UE} frames: ${2 * PER_UE} deciphered and verified, 0 dropped`);
    // Offsets move by 14 per earlier record; everything else is equal.
    const strip = (fs: FrameJson[]) => fs.map((f) => ({ ...f, offset: undefined }));
    expect(strip(got.frames)).toEqual(strip(want));
    // editcap can do the same rewrite (chop 14 octets, encapsulation rawip), where it is installed.
    const e = spawnSync('editcap', ['-F', 'pcap', '-C', '14', '-T', 'rawip', join(dir, 'lo.pcap'), join(dir, 'editcap-raw.pcap')], { encoding: 'utf8' });
    if (e.error === undefined && e.status === 0) {
      const ed = readFileSync(join(dir, 'editcap-raw.pcap'));
      expect(ed.readUInt32LE(20) & 0xffff).toBe(101);
      expect(strip(decode(join(dir, 'editcap-raw.pcap'), sides[0]!.keylog, '--udp-port', String(port), '--json').frames)).toEqual(strip(want));
    }
  });

  it('with another --udp-port every datagram is skipped and counted, not decoded; --udp-port 0 takes every port', () => {
    const other = port === 5600 ? 5601 : 5600;
    const r = decode(join(dir, 'lo.pcap'), sides[0]!.keylog, '--udp-port', String(other), '--json');
    expect(r.status).toBe(0);
    expect(r.frames).toHaveLength(2 * PER_UE);
    expect(new Set(r.frames.map((f) => f.skipped))).toEqual(new Set(['other-port']));
    expect(r.summary).toBe(`${2 * PER_UE} frames: 0 deciphered and verified, 0 dropped, ${2 * PER_UE} skipped as not sl-bridge traffic (other-port ${2 * PER_UE})`);
    const any = decode(join(dir, 'lo.pcap'), sides[0]!.keylog, '--udp-port', '0');
    expect(any.summary).toBe(`${2 * PER_UE} frames: ${2 * PER_UE} deciphered and verified, 0 dropped`);
  });
});
