/**
 * The two network namespaces of an OpenAirInterface interop run: one per UE, joined by a veth
 * pair that carries the RF simulator's IQ samples and the PKMF's TLS (10.200.0.1 / 10.200.0.2).
 * EpiSci's sidelink branch does not support two UEs sharing one IP stack (both would own
 * 10.0.0.0/24 on their TUN), so each UE, its daemon and its capture live in their own namespace.
 *
 * Names carry this process's PID (`slboai<pid>a`), so a run never touches another run's
 * namespaces, and namespaces left behind by a run that died are removed by the next one.
 */
import { execFileSync } from 'node:child_process';
import { processAlive } from '../state/ptk-high-water-file.js';

export const VETH_PREFIX = '10.200.0';

export function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs `ip` and turns its failure into an error naming the command and what ip said. */
export function ipOrThrow(args: string[]): string {
  try {
    return ip(args);
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')}: ${(err.stderr ?? err.message).trim()}`);
  }
}

/** Why namespaces cannot be made here (not root, no iproute2), or undefined when they can. */
export function netnsProblem(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  const probe = `slboai${process.pid}p`;
  try {
    ip(['netns', 'add', probe]);
  } catch (e) {
    const err = e as { stderr?: string; message: string; code?: string };
    if (err.code === 'ENOENT') return 'the `ip` command (iproute2) is not installed';
    return `cannot create a network namespace with \`ip netns add\` (root needed): ${(err.stderr ?? err.message).trim()}`;
  }
  try {
    ip(['netns', 'del', probe]);
  } catch {
    /* best effort */
  }
  return undefined;
}

/**
 * Removes namespaces of earlier runs whose process is gone (a killed run leaves them):
 * `pattern` matches the names to consider, with the owning PID as its first group.
 */
export function sweepStaleNamespaces(pattern: RegExp): void {
  let list = '';
  try {
    list = ip(['netns', 'list']);
  } catch {
    return;
  }
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = pattern.exec(name);
    if (m && !processAlive(Number(m[1]))) {
      try {
        ip(['netns', 'del', name]);
      } catch {
        /* raced with another sweeper */
      }
    }
  }
}

export interface UeNamespace {
  /** Namespace name. */
  name: string;
  /** Address on the veth link (the RF simulator and the PKMF use it). */
  address: string;
}

export class OaiNamespaces {
  readonly ues: [UeNamespace, UeNamespace];
  private destroyed = false;

  private constructor() {
    const tag = `slboai${process.pid}`;
    this.ues = [
      { name: `${tag}a`, address: `${VETH_PREFIX}.1` },
      { name: `${tag}b`, address: `${VETH_PREFIX}.2` },
    ];
  }

  /** Creates both namespaces with loopback up and the veth pair addressed. */
  static create(): OaiNamespaces {
    sweepStaleNamespaces(/^slboai(\d+)[ab]$/);
    const ns = new OaiNamespaces();
    const [a, b] = ns.ues;
    for (const u of ns.ues) {
      try {
        ip(['netns', 'del', u.name]);
      } catch {
        /* not there */
      }
    }
    try {
      for (const u of ns.ues) ipOrThrow(['netns', 'add', u.name]);
      const va = `slbv${process.pid}a`.slice(0, 15);
      const vb = `slbv${process.pid}b`.slice(0, 15);
      ipOrThrow(['link', 'add', va, 'type', 'veth', 'peer', 'name', vb]);
      ipOrThrow(['link', 'set', va, 'netns', a.name]);
      ipOrThrow(['link', 'set', vb, 'netns', b.name]);
      ipOrThrow(['-n', a.name, 'addr', 'add', `${a.address}/24`, 'dev', va]);
      ipOrThrow(['-n', b.name, 'addr', 'add', `${b.address}/24`, 'dev', vb]);
      for (const [u, v] of [
        [a, va],
        [b, vb],
      ] as const) {
        ipOrThrow(['-n', u.name, 'link', 'set', 'lo', 'up']);
        ipOrThrow(['-n', u.name, 'link', 'set', v, 'up']);
      }
    } catch (e) {
      ns.destroy();
      throw e;
    }
    return ns;
  }

  /** `ip netns exec NAME` as a command prefix. */
  static exec(name: string): string[] {
    return ['ip', 'netns', 'exec', name];
  }

  /** IPv4 address of `iface` in namespace `ns`, or undefined while it has none. */
  static address(ns: string, iface: string): string | undefined {
    try {
      const out = ip(['-n', ns, '-4', '-o', 'addr', 'show', 'dev', iface]);
      return /inet (\d+\.\d+\.\d+\.\d+)\//.exec(out)?.[1];
    } catch {
      return undefined;
    }
  }

  static ipIn(ns: string, args: string[]): string {
    return ipOrThrow(['-n', ns, ...args]);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const u of this.ues) {
      try {
        ip(['netns', 'del', u.name]);
      } catch {
        /* already gone */
      }
    }
  }
}
