/**
 * `sl-bridge pdu protect|unprotect`: one groupcast PDCP PDU by hand, for people debugging
 * captures and for independent checks against other implementations (docs/protocol.md 4).
 * `sl-bridge pdu decode`: every PDU of a capture (`--pcap`) deciphered with a keylog.
 * The crypto, PDCP and capture code is imported lazily inside the actions.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { CliError } from '../cli-error.js';
import { integerIn, type FlagParser } from '../cli-flags.js';
// Type-only: the PDCP code loads lazily in the actions.
import type { ManualSourceAuth } from '../../src/pdcp/manual.js';

const PROFILES = ['pcr', 'ts33533', 'lte-prose'] as const;
type Profile = (typeof PROFILES)[number];
const SDU_TYPE_NAMES = ['ip', 'non-ip', 'ethernet', 'unstructured', 'arp'];
type Alg = 0 | 1 | 2 | 3;

interface KeyFlags {
  profile: Profile;
  pgk: Uint8Array;
  pgkId: number;
  groupId: number;
  memberId: number;
  nea: Alg;
  /** 'none': integrity off; absent: the profile's default. */
  nia?: Alg | 'none';
  allowNull?: boolean;
  sourceAuth: SourceAuthFlag;
  /** `--pairwise-key GMI:HEX`, repeated: other member's GMI -> K(this UE, member). */
  pairwiseKey?: Map<number, Uint8Array>;
  signingSeed?: Uint8Array;
  /** `--public-key GMI:HEX`, repeated. */
  publicKey?: Map<number, Uint8Array>;
}

interface ProtectFlags extends KeyFlags {
  ptkId: number;
  sn: number;
  sduType: number;
  sdu: Uint8Array;
}

interface UnprotectFlags extends KeyFlags {
  pdu: Uint8Array;
  json?: boolean;
  receiverId?: number;
}

const SOURCE_AUTH_MODES = ['none', 'pairwise-mac', 'signature'] as const;
type SourceAuthFlag = (typeof SOURCE_AUTH_MODES)[number];

interface DecodeFlags {
  pcap: string;
  keylog?: string;
  udpPort: number;
  json?: boolean;
  writePcap?: string;
}

/** Hex bytes (optional 0x, spaces and colons ignored), exactly `exactBytes` of them if given. */
function hexBytes(exactBytes?: number): FlagParser<Uint8Array> {
  return (value) => {
    const hex = value.replace(/^0x/i, '').replace(/[\s:]/g, '');
    if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(hex)) {
      throw new InvalidArgumentError('expected an even number of hex digits');
    }
    if (exactBytes !== undefined && hex.length !== exactBytes * 2) {
      throw new InvalidArgumentError(`expected ${exactBytes} bytes (${exactBytes * 2} hex digits), got ${hex.length / 2} bytes`);
    }
    return Uint8Array.from(Buffer.from(hex, 'hex'));
  };
}

/** A 24-bit ID in hex (up to 6 digits, optional 0x), as keylogs and captures print it. */
const hexId24: FlagParser<number> = (value) => {
  const v = value.trim().replace(/^0x/i, '');
  if (!/^[0-9a-f]{1,6}$/i.test(v)) throw new InvalidArgumentError('expected a 24-bit ID as up to 6 hex digits');
  return Number.parseInt(v, 16);
};

/** A repeatable `GMI:HEX` flag (key of `bytes` octets) collected into a Map; a GMI given twice is an error. */
function gmiKey(bytes: number): (value: string, previous: Map<number, Uint8Array> | undefined) => Map<number, Uint8Array> {
  return (value, previous) => {
    const colon = value.indexOf(':');
    if (colon < 0) throw new InvalidArgumentError(`expected GMI:KEY (up to 6 hex digits, a colon, ${bytes * 2} hex digits)`);
    const gmi = hexId24(value.slice(0, colon));
    const key = hexBytes(bytes)(value.slice(colon + 1));
    const map = new Map(previous);
    if (map.has(gmi)) throw new InvalidArgumentError(`GMI ${gmi.toString(16).padStart(6, '0')} given twice`);
    return map.set(gmi, key);
  };
}

/** `2`, `nea2` or `nia2`. */
const algorithm: FlagParser<Alg> = (value) => {
  const v = value.trim().toLowerCase().replace(/^(nea|nia)/, '');
  if (!/^[0-3]$/.test(v)) throw new InvalidArgumentError('expected 0..3 (1 SNOW 3G, 2 AES, 3 ZUC, 0 null)');
  return Number(v) as Alg;
};

/** An {@link algorithm}, or `none` for integrity off (a word: commander turns a null value into ''). */
const integrityAlgorithm: FlagParser<Alg | 'none'> = (value) => (value.trim().toLowerCase() === 'none' ? 'none' : algorithm(value));

const sduType: FlagParser<number> = (value) => {
  const name = SDU_TYPE_NAMES.indexOf(value.trim().toLowerCase());
  if (name >= 0) return name;
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (n >= 5 && n <= 7) throw new InvalidArgumentError(`${n} is reserved (TS 38.323 6.3.12); use 0..4`);
  if (!(n >= 0 && n <= 4)) throw new InvalidArgumentError(`expected 0..4 or one of ${SDU_TYPE_NAMES.join(', ')}`);
  return n;
};

/** A combination of flags that each parsed but do not go together: exit status 2 like them. */
function usage(message: string): CliError {
  return new CliError(message, 2);
}

/**
 * The core's refusal of the key material or a field (src/pdcp/manual.ts throws RangeError or
 * TypeError naming it) as a usage error; anything else is a bug and keeps its stack.
 */
function asUsage(e: unknown): unknown {
  return e instanceof RangeError || e instanceof TypeError ? usage(e.message) : e;
}

/** The source-authentication flags as src/pdcp/manual.ts takes them; a flag of another mode is a usage error. */
function manualSourceAuth(f: KeyFlags): ManualSourceAuth | undefined {
  const stray = (
    [
      ['--pairwise-key', f.pairwiseKey, 'pairwise-mac'],
      ['--signing-seed', f.signingSeed, 'signature'],
      ['--public-key', f.publicKey, 'signature'],
    ] as const
  ).find(([, value, mode]) => value !== undefined && f.sourceAuth !== mode);
  if (stray !== undefined) throw usage(`${stray[0]}: only with --source-auth ${stray[2]}`);
  if (f.sourceAuth === 'pairwise-mac') return { mode: 'pairwise-mac', pairwiseKeys: f.pairwiseKey ?? new Map() };
  if (f.sourceAuth === 'signature') return { mode: 'signature', signingSeed: f.signingSeed, publicKeys: f.publicKey ?? new Map() };
  return undefined;
}

function manualKeys(f: KeyFlags) {
  const nia = f.nia === undefined ? (f.profile === 'lte-prose' ? null : 2) : f.nia === 'none' ? null : f.nia;
  if (f.profile === 'lte-prose' && nia !== null) throw usage('--nia: the lte-prose profile has no MAC-I; use --nia none');
  if ((f.nea === 0 || nia === 0) && !f.allowNull) {
    throw usage('NEA0/NIA0 (null algorithms) are for tests only; add --allow-null to use them');
  }
  return {
    sourceAuth: manualSourceAuth(f),
    profile: f.profile,
    pgk: f.pgk,
    pgkId: f.pgkId,
    groupId: f.groupId,
    memberId: f.memberId,
    nea: f.nea,
    nia,
    allowNullAlgorithms: f.allowNull === true,
  };
}

function addKeyOptions(cmd: Command, memberIdMeaning: string): Command {
  return cmd
    .addOption(new Option('--profile <profile>', 'key hierarchy and PDU layout').choices(PROFILES).default('pcr'))
    .requiredOption('--pgk <hex64>', 'the 256-bit PGK, 64 hex digits', hexBytes(32))
    .requiredOption('--pgk-id <n>', 'the 32-bit PGK ID (its 5 LSBs are the PGK Index in the header)', integerIn(0, 0xffffffff))
    .requiredOption('--group-id <hex6>', 'Group ID = L2 destination ID, 24 bits in hex', hexId24)
    .requiredOption('--member-id <hex6>', memberIdMeaning, hexId24)
    .option('--nea <n>', 'ciphering algorithm 128-NEA1..3 (0 = null, needs --allow-null)', algorithm, 2)
    .option('--nia <n|none>', "integrity algorithm 128-NIA1..3, or 'none' for integrity off (default 2; none for lte-prose)", integrityAlgorithm)
    .option('--allow-null', 'allow NEA0 / NIA0 (test only: no confidentiality / no integrity)')
    .addOption(
      new Option('--source-auth <mode>', "the group's source authentication (docs/pdcp.md): a block after the SDU").choices(SOURCE_AUTH_MODES).default('none'),
    )
    .option('--pairwise-key <gmi:hex32>', 'pairwise-mac: K(this UE, GMI), 16 bytes; repeat for every other member', gmiKey(16))
    .option('--public-key <gmi:hex64>', "signature: a member's Ed25519 public key; repeat per member", gmiKey(32));
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');

export function registerPdu(program: Command): void {
  const pdu = program
    .command('pdu')
    .description('protect / unprotect single groupcast PDCP PDUs by hand (cross-checks); decode captures');

  addKeyOptions(
    pdu
      .command('protect')
      .description('protect one SDU and print the PDU as hex (header | ciphered Group ID, GMI, SDU, MAC-I)'),
    "sender's Group Member ID = L2 source ID, 24 bits in hex",
  )
    .requiredOption('--ptk-id <n>', 'PTK ID, 0..65535', integerIn(0, 0xffff))
    .requiredOption('--sn <n>', 'PDCP SN, 0..65535', integerIn(0, 0xffff))
    .addOption(
      new Option('--sdu-type <n|name>', `SDU Type 0..4 (${SDU_TYPE_NAMES.map((n, i) => `${i} ${n}`).join(', ')})`)
        .argParser(sduType)
        .default(SDU_TYPE_NAMES.indexOf('non-ip'), 'non-ip'),
    )
    .requiredOption('--sdu <hex>', 'the SDU, hex', hexBytes())
    .option('--signing-seed <hex64>', "signature: the sender's Ed25519 private key (32-byte seed)", hexBytes(32))
    .addHelpText(
      'after',
      '\nExample:\n  sl-bridge pdu protect --pgk 000102...1f --pgk-id 7 --group-id 00c0de --member-id 0000ab \\\n' +
        '    --ptk-id 1 --sn 0 --nea 2 --nia 2 --sdu 48656c6c6f\n\nNever reuse a (PGK, member ID, PTK ID, SN) for different SDUs outside tests: it leaks plaintext.\n\n' +
        'Source authentication: --source-auth pairwise-mac with the sender\'s keys (--pairwise-key 0000ac:<32 hex> per\n' +
        'other member: one tag each), or --source-auth signature --signing-seed <64 hex> (its public key is derived).',
    )
    .action(async (flags: ProtectFlags) => {
      const keys = manualKeys(flags);
      if (flags.sourceAuth === 'signature' && flags.signingSeed === undefined) throw usage('--signing-seed: required with --source-auth signature');
      const { protectManually } = await import('../../src/pdcp/manual.js');
      let out: Uint8Array;
      try {
        out = protectManually(keys, flags.ptkId, flags.sn, flags.sduType, flags.sdu);
      } catch (e) {
        throw asUsage(e);
      }
      process.stdout.write(`${hex(out)}\n`);
    });

  addKeyOptions(
    pdu
      .command('unprotect')
      .description('verify and decipher one PDU; print the SDU as hex, or exit 1 with the drop reason on stderr'),
    "sender's Group Member ID = the PDU's L2 source ID, 24 bits in hex",
  )
    .requiredOption('--pdu <hex>', 'the PDU, hex', hexBytes())
    .option('--json', 'print a JSON object with the SDU and the header fields instead of the bare SDU')
    .option('--receiver-id <hex6>', "pairwise-mac: the receiving UE's GMI; its tag is checked with --pairwise-key <member-id>:K (default: the sender, which checks every tag)", hexId24)
    .addHelpText(
      'after',
      '\nExample:\n  sl-bridge pdu unprotect --pgk 000102...1f --pgk-id 7 --group-id 00c0de --member-id 0000ab \\\n' +
        '    --nea 2 --nia 2 --pdu 2700010000...\n\n' +
        'Source authentication: --source-auth pairwise-mac --receiver-id 0000ac --pairwise-key 0000ab:<K(ac, ab)>\n' +
        '(without --receiver-id: the sender\'s own keys, every tag checked), or --source-auth signature\n' +
        '--public-key 0000ab:<64 hex> (no seed needed to verify).\n\n' +
        'Exit status: 0 accepted, 1 dropped (reason on stderr), 2 bad flags.',
    )
    .action(async (flags: UnprotectFlags) => {
      const keys = { ...manualKeys(flags), receiverId: flags.receiverId };
      if (flags.receiverId !== undefined && flags.sourceAuth !== 'pairwise-mac') throw usage('--receiver-id: only with --source-auth pairwise-mac');
      const { unprotectManually, DROP_REASON_TEXT } = await import('../../src/pdcp/index.js');
      let result;
      try {
        result = unprotectManually(keys, flags.pdu);
      } catch (e) {
        throw asUsage(e);
      }
      if (!result.ok) throw new CliError(`PDU dropped: ${result.reason} (${DROP_REASON_TEXT[result.reason]})`, 1);
      if (flags.json) {
        const { sdu, sduType, senderGmi, groupId, pgkId, ptkId, sn } = result;
        const source = flags.sourceAuth === 'none' ? {} : { sourceAuth: flags.sourceAuth };
        process.stdout.write(
          `${JSON.stringify({ sdu: hex(sdu), sduType, senderGmi: senderGmi.toString(16).padStart(6, '0'), groupId: groupId.toString(16).padStart(6, '0'), pgkId, ptkId, sn, ...source })}\n`,
        );
      } else {
        process.stdout.write(`${hex(result.sdu)}\n`);
      }
    });

  pdu
    .command('decode')
    .description('print every PDU of a capture, deciphered and verified with a keylog, or its drop reason')
    .requiredOption(
      '--pcap <file>',
      'classic pcap: written by `--pcap` (LINKTYPE_USER0..15), or taken with tshark/tcpdump on an interface carrying the udp transport (raw IP, Ethernet, Linux cooked, BSD loopback)',
    )
    .option('--keylog <file>', 'keylog written by `--keylog` (without it: headers only, every PDU unknown-group)')
    .option('--udp-port <n>', 'interface captures: UDP port of the sl-bridge datagrams, as source or destination (0 = every UDP datagram)', integerIn(0, 0xffff), 5600)
    .option('--json', 'one JSON object per frame instead of text lines')
    .option('--write-pcap <file>', 'also write a capture with every deciphered SDU in clear (and the rest as captured) for the Wireshark dissector')
    .addHelpText(
      'after',
      '\nExample:\n  sl-bridge pdu decode --pcap ue1.pcap --keylog ue1.keys\n' +
        '  frame 1 tx src=00a001 dst=12ab34 sdu_type=non-ip pgk_index=7 ptk_id=0 sn=0 pgk_id=7 sdu=48656c6c6f\n' +
        '  frame 2 rx src=00b002 dst=12ab34 sdu_type=non-ip pgk_index=7 ptk_id=0 sn=0 dropped=mac-failure (MAC-I does not verify)\n' +
        '  frame 3 rx src=00b002 dst=12ab34 sdu_type=non-ip pgk_index=7 ptk_id=0 sn=1 pgk_id=7 ranging=request requester_id=2871 request_seq=0\n' +
        '    request_time_ns=1893456000000000000 responder_id=0 response_time_ns=0 padding_bytes=0 sdu=0801...\n' +
        'A non-IP SDU that is a RangingMessage (the bundled ranging application) also shows its fields.\n\n' +
        'Plaintext in Wireshark:\n' +
        '  sl-bridge pdu decode --pcap ue1.pcap --keylog ue1.keys --write-pcap ue1-clear.pcap\n' +
        '  wireshark -X lua_script:bridge/wireshark/sl-bridge.lua ue1-clear.pcap\n' +
        'One record per frame that carries an envelope: its header fields, the verification result, and the SDU in\n' +
        'clear (RangingMessage fields decoded) or, when it was not deciphered, the PDU as captured.\n\n' +
        'Each direction is decoded with its own replay state (a duplicate within tx or within rx shows as replay);\n' +
        'own-source rejection is off. A summary goes to stderr.\n\n' +
        'A capture taken on the interface of the udp stack transport (the link type says which kind of file it is):\n' +
        "  tshark -i oaitun_ue1 -F pcap -w tun.pcap -f 'udp port 5600'     # classic pcap, not pcapng\n" +
        '  sl-bridge pdu decode --pcap tun.pcap --keylog ue1.keys\n' +
        '  frame 1 rx from=10.0.0.2:41234 to=239.255.77.1:5600 src=00a001 dst=12ab34 sdu_type=non-ip pgk_index=7 ptk_id=0 sn=0 pgk_id=7 sdu=48656c6c6f\n' +
        'Every UDP datagram on --udp-port is one PduEnvelope, decoded as a receiver would (direction rx, replay state\n' +
        'per sender); from= and to= show who sent it. Other traffic is skipped and counted in the summary.\n\n' +
        'Exit status: 0 the whole capture was read (drops are normal and reported per frame),\n' +
        '1 malformed or unreadable pcap/keylog (the error names the file and the byte offset / line), 2 bad flags.',
    )
    .action(async (flags: DecodeFlags) => {
      const { decodeCapture, summarize, CaptureInputError } = await import('../capture/index.js');
      try {
        const run = await decodeCapture({ pcap: flags.pcap, keylog: flags.keylog, udpPort: flags.udpPort, json: flags.json === true, writePcap: flags.writePcap });
        process.stderr.write(`${summarize(run.counters)}\n`);
        if (run.recordsWritten !== undefined) {
          process.stderr.write(`wrote ${run.recordsWritten} record${run.recordsWritten === 1 ? '' : 's'} to ${flags.writePcap}\n`);
        }
      } catch (e) {
        if (e instanceof CaptureInputError) throw new CliError(e.message, 1);
        throw e;
      }
    });
}
