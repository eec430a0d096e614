/**
 * The daemon's UE config (bridge/daemon/config.ts): defaults, the sections it shares with the key
 * client, and errors that name the file, the key and what was expected. Also the transport
 * factory's refusals and `sl-bridge run` exit statuses for bad input.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemonConfigFromObject, loadDaemonConfig } from '../../bridge/daemon/config.js';
import { createDaemonStackTransport } from '../../bridge/daemon/transports.js';
import { loadHwProfile } from '../../bridge/profiles/loader.js';
import { BIN, issueUe, makeOperatorPki, OP1, supiOf, tmpDir, writeYaml } from '../fixtures/pkmf-testbed.js';

const exec = promisify(execFile);
let t: ReturnType<typeof tmpDir>;
let keys: Record<string, unknown>;

beforeAll(async () => {
  t = tmpDir('slb-daemon-config-');
  const op = await makeOperatorPki(join(t.dir, 'op1'), OP1);
  const cert = await issueUe(op, supiOf(OP1, 1));
  keys = {
    homePlmn: OP1,
    tls: { cert: cert.certFile, key: cert.keyFile, ca: op.caCert },
    pkmf: { port: 7443 },
    groups: [{ id: 0x000101 }, { id: '000102' }],
    stateDir: 'state/ue1',
  };
});
afterAll(() => t?.cleanup());

const file = (): string => join(t.dir, 'ue1.yaml');

describe('UE config', () => {
  it('takes defaults from the keys: section and resolves paths against the file', () => {
    const cfg = loadDaemonConfig(writeYaml(file(), { app: { endpoint: 'ipc:///tmp/ue1.sock' }, keys }));
    expect(cfg.name).toBe('ue1');
    expect(cfg.stateDir).toBe(join(t.dir, 'state/ue1'));
    expect(cfg.groups).toEqual([0x000101, 0x000102]);
    expect(cfg.appEndpoints).toEqual(['ipc:///tmp/ue1.sock']);
    expect(cfg.pdcp).toEqual({ txGuardMs: 60_000, rxExpiryGraceMs: 30_000, ptkBlockSize: 8, snPerPtk: 65536, replayMarkStep: 64 });
    expect(cfg.keys?.supi).toBe(supiOf(OP1, 1));
    expect(cfg.logLevel).toBe('info');
  });

  it('reads every section of its own', () => {
    const cfg = daemonConfigFromObject(
      {
        ue: { name: 'car-7', stateDir: '/var/lib/x', l2SourceId: '00abcd' },
        app: { endpoints: ['tcp://127.0.0.1:*', 'ipc:///tmp/a.sock'], maxSduBytes: 1500 },
        stack: { endpoint: 'tcp://10.0.0.1:5560' },
        groups: ['000102'],
        pdcp: { txGuardSec: 5, rxExpiryGraceSec: 1.5, ptkBlockSize: 2, snPerPtk: 100 },
        logLevel: 'debug',
        keys,
      },
      { file: 'x.yaml', baseDir: t.dir },
    );
    expect(cfg).toMatchObject({
      name: 'car-7',
      stateDir: '/var/lib/x',
      l2SourceId: 0xabcd,
      appEndpoints: ['tcp://127.0.0.1:*', 'ipc:///tmp/a.sock'],
      maxSduBytes: 1500,
      stackEndpoint: 'tcp://10.0.0.1:5560',
      groups: [0x000102],
      pdcp: { txGuardMs: 5000, rxExpiryGraceMs: 1500, ptkBlockSize: 2, snPerPtk: 100 },
      logLevel: 'debug',
    });
  });

  it('runs without keys: only with groups and a state directory', () => {
    const cfg = daemonConfigFromObject({ ue: { stateDir: '/tmp/s', l2SourceId: 5 }, app: { endpoint: 'ipc:///tmp/a' }, groups: [0x101] });
    expect(cfg.keys).toBeUndefined();
    expect(cfg.groups).toEqual([0x101]);
  });

  it.each([
    [() => ({ app: { endpoint: 'ipc:///a' }, keys, extra: 1 }), /x\.yaml: extra: unknown key/],
    [() => ({ keys }), /x\.yaml: app: expected a mapping/],
    [() => ({ app: { endpoint: 'http://x' }, keys }), /app\.endpoint: expected a ZeroMQ endpoint/],
    [() => ({ app: { endpoint: 'ipc:///a', endpoints: ['ipc:///b'] }, keys }), /app\.endpoints: expected either endpoint or endpoints/],
    [() => ({ app: { endpoint: 'ipc:///a', maxSduBytes: 9001 }, keys }), /app\.maxSduBytes: expected an integer from 1 to 9000/],
    [() => ({ app: { endpoint: 'ipc:///a' }, groups: [0x000103], keys }), /groups\[0\]: expected a group listed in keys\.groups \(000101, 000102\)/],
    [() => ({ app: { endpoint: 'ipc:///a' }, groups: ['xyz'], keys }), /groups\[0\]: expected a 24-bit ID/],
    [() => ({ app: { endpoint: 'ipc:///a' }, groups: [], keys }), /groups: expected a non-empty list/],
    [() => ({ ue: { stateDir: '/s' }, app: { endpoint: 'ipc:///a' } }), /groups: expected a list of Group IDs \(required without a keys: section\)/],
    [() => ({ app: { endpoint: 'ipc:///a' }, groups: [1] }), /ue: expected ue\.stateDir/],
    [() => ({ ue: { name: 'bad name' }, app: { endpoint: 'ipc:///a' }, keys }), /ue\.name: expected a name of letters/],
    [() => ({ ue: { l2SourceId: 0x1000000 }, app: { endpoint: 'ipc:///a' }, keys }), /ue\.l2SourceId: expected a 24-bit ID/],
    [() => ({ app: { endpoint: 'ipc:///a' }, stack: { endpoint: 'udp://x' }, keys }), /stack\.endpoint: expected a ZeroMQ endpoint/],
    [() => ({ app: { endpoint: 'ipc:///a' }, pdcp: { snPerPtk: 0 }, keys }), /pdcp\.snPerPtk: expected an integer from 1 to 65536/],
    [() => ({ app: { endpoint: 'ipc:///a' }, logLevel: 'loud', keys }), /logLevel: expected one of fatal, error/],
    [() => ({ app: { endpoint: 'ipc:///a' }, keys: { ...keys, homePlmn: '001-02' } }), /keys\.homePlmn: expected the PLMN whose MCC\+MNC start the SUPI/],
  ] as [() => unknown, RegExp][])('rejects bad document %#', (doc, message) => {
    expect(() => daemonConfigFromObject(doc(), { file: 'x.yaml', baseDir: t.dir })).toThrow(message);
  });
});

describe('stack transport factory', () => {
  it('builds ZeroMQ from the profile, with the UE config endpoint overriding it', async () => {
    const tr = await createDaemonStackTransport(loadHwProfile('emulator'), { endpoint: 'ipc:///tmp/other.sock' });
    expect(tr.kind).toBe('zmq');
    expect(tr.description).toBe('zmq connect ipc:///tmp/other.sock');
    await tr.close();
  });

  it('builds serial and UDP transports for their profiles', async () => {
    const serial = await createDaemonStackTransport(loadHwProfile('serial-modem'));
    expect(serial.kind).toBe('serial');
    const udp = await createDaemonStackTransport(loadHwProfile('srsran-tun'));
    expect(udp.kind).toBe('udp');
    await Promise.all([serial.close(), udp.close()]);
  });

  it('refuses an endpoint override for a non-ZeroMQ profile', async () => {
    await expect(createDaemonStackTransport(loadHwProfile('serial-modem'), { endpoint: 'ipc:///x' })).rejects.toThrow(/stack\.endpoint is for ZeroMQ profiles/);
  });
});

describe('sl-bridge run: bad input', () => {
  const run = async (args: string[]): Promise<{ code: number; stderr: string }> => {
    try {
      await exec(process.execPath, [BIN, 'run', ...args]);
      return { code: 0, stderr: '' };
    } catch (e) {
      const err = e as { code: number; stderr: string };
      return { code: err.code, stderr: err.stderr };
    }
  };

  it('exits 2 with a clear message for missing flags, bad configs, bad profiles and bad flag values', async () => {
    const good = writeYaml(join(t.dir, 'good.yaml'), { app: { endpoint: `ipc://${join(t.dir, 'good.sock')}` }, keys });
    const bad = writeYaml(join(t.dir, 'bad.yaml'), { app: { endpoint: 'ipc:///a' }, keys, typo: true });
    expect(await run([])).toMatchObject({ code: 2, stderr: expect.stringContaining('--config <UE.yaml> is required') });
    expect(await run(['--config', bad])).toMatchObject({ code: 2, stderr: expect.stringContaining('bad.yaml: typo: unknown key') });
    expect(await run(['--config', good, '--profile', 'nope'])).toMatchObject({ code: 2, stderr: expect.stringContaining('no shipped hw-profile named "nope"') });
    expect(await run(['--config', good, '--security', 'maybe'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("option '--security <on|off>' argument 'maybe' is invalid. Allowed choices are on, off."),
    });
    expect(await run(['--config', good, '--status-interval', '-1'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--status-interval') });
    expect(await run(['--config', good, '--metrics-sample', '0'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("option '--metrics-sample <n>' argument '0' is invalid. expected an integer from 1 to 1000000"),
    });
  });
});
