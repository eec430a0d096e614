/**
 * The address a testbed's medium and PKMFs listen on and its daemons dial (`sl-bridge init
 * --host`). Its own module, free of the PKI code, because the command declarations check the
 * flag with it before any command runs.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** Everything on one machine. */
export const LOOPBACK_HOST = '127.0.0.1';

/**
 * Why `host` cannot be a testbed's medium / PKMF address, or undefined when it can: an IPv4
 * address or a DNS name (a ZeroMQ tcp:// endpoint, a PKMF URL and a certificate SAN are all made
 * from it; IPv6 would need brackets and ZeroMQ's IPv6 option everywhere).
 */
export function testbedHostProblem(host: string): string | undefined {
  if (isIPv6(host)) return 'IPv6 addresses are not supported here; give an IPv4 address or a host name';
  if (isIPv4(host)) return host === '0.0.0.0' ? '0.0.0.0 cannot be dialled; give the address of the machine running the medium and the PKMFs' : undefined;
  if (/^[0-9.]+$/.test(host)) return `${JSON.stringify(host)} is not an IPv4 address`;
  const label = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
  if (host.length > 253 || !host.split('.').every((l) => label.test(l))) return `expected an IPv4 address or a host name, got ${JSON.stringify(host)}`;
  return undefined;
}
