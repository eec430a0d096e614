/**
 * hw-profiles: every shipped profile loads into its typed form, and a bad profile is refused with
 * an error naming the file, the key and what was expected.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { builtinProfileNames, loadHwProfile, resolveProfilePath } from '../../bridge/profiles/loader.js';
import { ConfigError } from '../../bridge/config/reader.js';
import { createDaemonStackTransport as createStackTransport } from '../../bridge/daemon/transports.js';
import { tempDir } from '../fixtures/transport-helpers.js';

const tmp = tempDir('slb-profiles-');
afterAll(() => tmp.cleanup());

const EMULATOR = `
name: test
description: a test profile
transport:
  kind: zmq
  role: connect
  endpoint: tcp://127.0.0.1:5560
pdu:
  max_bytes: 9015
`;

function write(name: string, text: string): string {
  const file = join(tmp.dir, name);
  writeFileSync(file, text);
  return file;
}

function errorOf(file: string): ConfigError {
  try {
    loadHwProfile(file);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error(`${file} loaded but should not`);
}

describe('shipped hw-profiles', () => {
  it('ships the emulator, two ZeroMQ shim profiles, a serial modem and two TUN profiles', () => {
    expect(builtinProfileNames()).toEqual(['emulator', 'oai-nr-sl-tun', 'oai-nr-sl-zmq', 'serial-modem', 'srsran-tun', 'srsran-zmq']);
  });

  it('loads the default (emulator): connect to the medium it also describes', () => {
    const p = loadHwProfile();
    expect(p.name).toBe('emulator');
    expect(p.transport).toMatchObject({ kind: 'zmq', role: 'connect', endpoint: 'tcp://127.0.0.1:5560' });
    expect(p.medium?.bind).toEqual(['tcp://127.0.0.1:5560']);
    expect(p.medium?.impairments).toMatchObject({ loss: 0, delayMs: 0, jitterMs: 0, duplicate: 0, reorder: 0 });
    expect(p.pdu.maxBytes).toBe(9015);
  });

  it('loads the stack-shim profiles as bound ZeroMQ endpoints with their PDU limits', () => {
    const oai = loadHwProfile('oai-nr-sl-zmq');
    const srs = loadHwProfile('srsran-zmq');
    expect(oai.transport).toMatchObject({ kind: 'zmq', role: 'bind' });
    expect(srs.transport).toMatchObject({ kind: 'zmq', role: 'bind' });
    expect(oai.transport.kind === 'zmq' && oai.transport.tuning).toMatchObject({ heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 3000 });
    expect(oai.pdu.maxBytes).toBe(9015);
    expect(srs.pdu.maxBytes).toBe(8203);
    expect(oai.medium).toBeUndefined();
  });

  it('loads the serial and UDP profiles, and the transport factory builds their transports', async () => {
    expect(loadHwProfile('serial-modem').transport).toMatchObject({ kind: 'serial', device: '/dev/ttyUSB0', baudRate: 921600, flowControl: 'rts-cts', mtu: 2048, framing: 'cobs' });
    expect(loadHwProfile('oai-nr-sl-tun').transport).toMatchObject({ kind: 'udp', mode: 'multicast', group: '239.255.77.1', port: 5600, interface: 'oaitun_ue1' });
    expect(loadHwProfile('srsran-tun').transport).toMatchObject({ kind: 'udp', interface: 'tun_srsue' });
    expect((await createStackTransport(loadHwProfile('serial-modem'))).kind).toBe('serial');
    expect((await createStackTransport(loadHwProfile('srsran-tun'))).kind).toBe('udp');
  });

  it('opens a stack transport from a profile, with an endpoint override', async () => {
    const t = await createStackTransport(loadHwProfile('oai-nr-sl-zmq'), { endpoint: 'tcp://127.0.0.1:*' });
    await t.open({ frame: () => undefined });
    expect(t.description).toMatch(/^zmq bind tcp:\/\/127\.0\.0\.1:\d+$/);
    await t.close();
  });

  it('names the shipped profiles when an unknown name is asked for', () => {
    const e = errorOf('no-such-radio');
    expect(e.message).toContain('no shipped hw-profile named "no-such-radio"');
    expect(e.message).toContain('emulator');
    expect(resolveProfilePath('./x/y.yaml')).toMatch(/x\/y\.yaml$/);
  });
});

describe('hw-profile validation', () => {
  it.each([
    ['missing transport', EMULATOR.replace(/transport:[\s\S]*?pdu:/, 'pdu:'), 'transport', 'expected a mapping (this key is required)'],
    ['unknown transport kind', EMULATOR.replace('kind: zmq', 'kind: can-bus'), 'transport.kind', 'expected one of zmq, serial, udp, got "can-bus"'],
    ['bad role', EMULATOR.replace('role: connect', 'role: listen'), 'transport.role', 'expected one of connect, bind'],
    ['not a ZeroMQ endpoint', EMULATOR.replace('tcp://127.0.0.1:5560', 'http://x:1'), 'transport.endpoint', 'expected a ZeroMQ endpoint'],
    ['wildcard port when connecting', EMULATOR.replace('tcp://127.0.0.1:5560', 'tcp://127.0.0.1:*'), 'transport.endpoint', 'expected a ZeroMQ endpoint: tcp://HOST:PORT,'],
    ['any-interface host when connecting', EMULATOR.replace('tcp://127.0.0.1:5560', 'tcp://*:5560'), 'transport.endpoint', 'expected a ZeroMQ endpoint: tcp://HOST:PORT,'],
    ['port out of range', EMULATOR.replace('5560', '70000'), 'transport.endpoint', 'expected a ZeroMQ endpoint'],
    ['negative high-water mark', EMULATOR.replace('pdu:', '  send_hwm: -5\npdu:'), 'transport.send_hwm', 'expected an integer from 1 to 1000000, got -5'],
    ['misspelt key', EMULATOR.replace('pdu:', '  endpiont: x\npdu:'), 'transport.endpiont', 'unknown key (check its spelling)'],
    ['heartbeat timeout below interval', EMULATOR.replace('pdu:', '  timing:\n    heartbeat_ms: 1000\n    heartbeat_timeout_ms: 500\npdu:'), 'transport.timing.heartbeat_timeout_ms', 'expected at least heartbeat_ms (1000), got 500'],
    ['PDU limit too large', EMULATOR.replace('9015', '100000'), 'pdu.max_bytes', 'expected an integer from 16 to 65535, got 100000'],
    ['PDU limit a string', EMULATOR.replace('9015', 'big'), 'pdu.max_bytes', 'expected an integer from 16 to 65535, got "big"'],
    ['bad name', EMULATOR.replace('name: test', 'name: My Radio'), 'name', 'expected lower-case letters, digits and dashes'],
    ['medium loss above 1', `${EMULATOR}medium:\n  bind: [tcp://127.0.0.1:*]\n  loss: 10\n`, 'medium.loss', 'expected a number from 0 to 1, got 10'],
    ['medium without bind', `${EMULATOR}medium:\n  loss: 0.1\n`, 'medium.bind', 'expected a list of ZeroMQ endpoints'],
    ['medium bind not an endpoint', `${EMULATOR}medium:\n  bind: [localhost]\n`, 'medium.bind[0]', 'expected ZeroMQ endpoints to bind'],
    ['medium with a bound transport', `${EMULATOR.replace('role: connect', 'role: bind')}medium:\n  bind: [tcp://127.0.0.1:*]\n`, 'medium', 'a medium section only goes with'],
    [
      'serial without a device',
      'name: s\ndescription: d\ntransport:\n  kind: serial\n  baud_rate: 115200\n  mtu: 1024\npdu:\n  max_bytes: 1000\n',
      'transport.device',
      'expected a string (this key is required)',
    ],
    [
      'serial PDU limit above the MTU',
      'name: s\ndescription: d\ntransport:\n  kind: serial\n  device: /dev/ttyS0\n  baud_rate: 115200\n  mtu: 512\npdu:\n  max_bytes: 1000\n',
      'pdu.max_bytes',
      'expected at most transport.mtu - 31 (envelope fields) = 481 for a serial link, got 1000',
    ],
    [
      'serial PDU limit leaving no room for the envelope fields',
      'name: s\ndescription: d\ntransport:\n  kind: serial\n  device: /dev/ttyS0\n  baud_rate: 115200\n  mtu: 512\npdu:\n  max_bytes: 500\n',
      'pdu.max_bytes',
      'expected at most transport.mtu - 31 (envelope fields) = 481 for a serial link, got 500',
    ],
    [
      'serial xon-xoff flow control (unsafe with binary frames)',
      'name: s\ndescription: d\ntransport:\n  kind: serial\n  device: /dev/ttyS0\n  baud_rate: 115200\n  mtu: 512\n  flow_control: xon-xoff\npdu:\n  max_bytes: 400\n',
      'transport.flow_control',
      'expected one of none, rts-cts',
    ],
    [
      'serial flow control unknown',
      'name: s\ndescription: d\ntransport:\n  kind: serial\n  device: /dev/ttyS0\n  baud_rate: 115200\n  mtu: 512\n  flow_control: hardware\npdu:\n  max_bytes: 400\n',
      'transport.flow_control',
      'expected one of none, rts-cts',
    ],
    [
      'UDP group not multicast',
      'name: u\ndescription: d\ntransport:\n  kind: udp\n  group: 10.0.0.1\n  port: 5600\n  interface: tun0\npdu:\n  max_bytes: 1400\n',
      'transport.group',
      'expected an IPv4 multicast address',
    ],
    [
      'UDP port missing',
      'name: u\ndescription: d\ntransport:\n  kind: udp\n  group: 239.1.1.1\n  interface: tun0\npdu:\n  max_bytes: 1400\n',
      'transport.port',
      'expected an integer from 1 to 65535 (this key is required)',
    ],
    ['not YAML', 'name: [unclosed\n', '', 'not valid YAML'],
    ['not a mapping', '- just\n- a list\n', '', 'expected a mapping'],
  ])('refuses %s, naming the file, the key and what was expected', (label, text, key, expected) => {
    const file = write(`${label.replace(/\W+/g, '-')}.yaml`, text);
    const e = errorOf(file);
    expect(e.file).toBe(file);
    expect(e.key).toBe(key);
    expect(e.message.startsWith(`${file}: ${key ? `${key}: ` : ''}`)).toBe(true);
    expect(e.message).toContain(expected);
  });

  it('refuses a file that does not exist, naming it', () => {
    const e = errorOf(join(tmp.dir, 'absent.yaml'));
    expect(e.message).toContain('absent.yaml');
    expect(e.message).toContain('cannot read the file (ENOENT)');
  });

  it('accepts a minimal profile with defaults filled in', () => {
    const p = loadHwProfile(write('minimal.yaml', EMULATOR));
    expect(p.transport.kind === 'zmq' && p.transport.tuning).toMatchObject({ sendHighWaterMark: 1000, reconnectIntervalMs: 100 });
  });
});
