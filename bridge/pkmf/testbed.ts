/**
 * Programmatic testbed set-up for tests, benchmarks and the demo: an operator's PKI (CA, PKMF
 * certificate, UE certificates) and PKMF / UE config files written as YAML, exactly what the CLI
 * reads (`sl-bridge pkmf --config`, `sl-bridge keys fetch --config`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { IssuedFiles } from '../pki/ca.js';
import { initCa, issueCertificate } from '../pki/ca.js';

export interface OperatorPki {
  plmn: string;
  dir: string;
  caCert: string;
  pkmfCert: string;
  pkmfKey: string;
}

/**
 * DIR/ca.{crt,key} and DIR/pkmf.{crt,key} for the operator of `plmn`. `pkmfNames`: the PKMF
 * certificate's DNS / IP SANs (default localhost, 127.0.0.1, ::1), the names UEs and peers dial.
 */
export async function makeOperatorPki(dir: string, plmn: string, pkmfNames: { dns?: string[]; ips?: string[] } = {}): Promise<OperatorPki> {
  const ca = await initCa(dir, { commonName: `sl-bridge testbed CA ${plmn}`, force: true });
  const pkmf = await issueCertificate({ caDir: dir, kind: 'pkmf', plmn, out: join(dir, 'pkmf'), force: true, ...pkmfNames });
  return { plmn, dir, caCert: ca.certFile, pkmfCert: pkmf.certFile, pkmfKey: pkmf.keyFile };
}

/** DIR/ue-<supi>.{crt,key}, signed by the operator's CA (validity overridable for tests). */
export function issueUe(
  op: OperatorPki,
  supi: string,
  opts: { notBefore?: Date; notAfter?: Date; out?: string } = {},
): Promise<IssuedFiles> {
  return issueCertificate({ caDir: op.dir, kind: 'ue', supi, out: opts.out ?? join(op.dir, `ue-${supi}`), force: true, ...opts });
}

/** Writes `doc` as YAML to `file` (creating directories) and returns `file`. */
export function writeYaml(file: string, doc: unknown): string {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, stringify(doc));
  return file;
}
