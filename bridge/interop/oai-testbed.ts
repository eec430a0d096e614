/**
 * Configuration of an OpenAirInterface interop run, written into its working directory: one
 * operator's PKI, a PKMF listening on UE 1's veth address (UE 2's daemon reaches it over the veth
 * link, as a UE would reach its PKMF over the network), and per UE two daemon configs, one per
 * path: `tun` (hw-profile oai-nr-sl-tun with the UE's own TUN interface) and `pdcp` (hw-profile
 * oai-nr-sl-zmq, the daemon binding the stack socket that OAI's PDCP glue connects to).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { hex24 } from '../../src/pkmf/identity.js';
import { resolveProfilePath } from '../profiles/loader.js';
import { issueUe, makeOperatorPki, writeYaml } from '../pkmf/testbed.js';
import { supiOf } from '../demo/setup.js';
import type { OaiNamespaces } from './netns.js';
import { OAI_TUN } from './oai-ue.js';

export const OAI_PLMN = '001-01';
export const OAI_GROUP = 0x0d0001;
export const OAI_NEA = 2;
export const OAI_NIA = 2;
export const PKMF_PORT = 7443;

export interface OaiUeFiles {
  id: 'ue1' | 'ue2';
  /** Namespace the UE, its daemon and its capture run in. */
  ns: string;
  tunConfig: string;
  tunProfile: string;
  pdcpConfig: string;
  /** The daemon's application socket (ipc: reachable from every namespace). */
  appEndpoint: string;
  /** The daemon's stack socket on the PDCP path (it binds; OAI's glue, or a relay, connects). */
  stackEndpoint: string;
  logFile: (tag: string) => string;
}

export interface OaiTestbed {
  dir: string;
  pkmfConfig: string;
  pkmfLog: string;
  ues: [OaiUeFiles, OaiUeFiles];
}

export async function writeOaiTestbed(dir: string, ns: OaiNamespaces): Promise<OaiTestbed> {
  const op = await makeOperatorPki(join(dir, 'pki'), OAI_PLMN);
  const members = [supiOf(OAI_PLMN, 1), supiOf(OAI_PLMN, 2)];
  const pkmfConfig = writeYaml(join(dir, 'pkmf.yaml'), {
    plmn: OAI_PLMN,
    database: join(dir, 'pkmf.db'),
    tls: { cert: op.pkmfCert, key: op.pkmfKey, ca: op.caCert },
    listen: { host: ns.ues[0].address, port: PKMF_PORT },
    logLevel: 'info',
    groups: [{ id: OAI_GROUP, nea: OAI_NEA, nia: OAI_NIA, profile: 'pcr', members }],
  });
  const tunTemplate = parse(readFileSync(resolveProfilePath('oai-nr-sl-tun'), 'utf8')) as { name: string; description: string; transport: Record<string, unknown> };
  const ues = [] as unknown as [OaiUeFiles, OaiUeFiles];
  for (const i of [0, 1] as const) {
    const id = i === 0 ? 'ue1' : 'ue2';
    const cert = await issueUe(op, members[i]!, { out: join(dir, 'pki', id) });
    const stateDir = join(dir, 'state', id);
    const appEndpoint = `ipc://${join(dir, `${id}-app.sock`)}`;
    const stackEndpoint = `ipc://${join(dir, `${id}-stack.sock`)}`;
    const base = {
      ue: { name: id, stateDir },
      app: { endpoint: appEndpoint },
      groups: [hex24(OAI_GROUP)],
      keys: {
        homePlmn: OAI_PLMN,
        tls: { cert: cert.certFile, key: cert.keyFile, ca: op.caCert },
        pkmf: { host: ns.ues[0].address, port: PKMF_PORT, servername: 'localhost', requestTimeoutSec: 5 },
        groups: [{ id: hex24(OAI_GROUP), nea: [1, 2, 3], nia: [1, 2, 3] }],
        stateDir,
        refresh: { backoffBaseSec: 0.2, backoffMaxSec: 1 },
      },
    };
    const tunProfile = writeYaml(join(dir, `${id}-oai-nr-sl-tun.yaml`), {
      ...tunTemplate,
      name: `oai-nr-sl-tun-${id}`,
      transport: { ...tunTemplate.transport, interface: OAI_TUN[i].iface },
    });
    ues[i] = {
      id,
      ns: ns.ues[i].name,
      tunConfig: writeYaml(join(dir, `${id}-tun.yaml`), base),
      tunProfile,
      pdcpConfig: writeYaml(join(dir, `${id}-pdcp.yaml`), { ...base, stack: { endpoint: stackEndpoint } }),
      appEndpoint,
      stackEndpoint,
      logFile: (tag) => join(dir, 'logs', `${id}-${tag}.log`),
    };
  }
  return { dir, pkmfConfig, pkmfLog: join(dir, 'logs', 'pkmf.log'), ues };
}
