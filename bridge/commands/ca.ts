import type { Command } from 'commander';
import { collectWords, positive } from '../cli-flags.js';

interface IssueFlags {
  ca: string;
  supi?: string;
  plmn?: string;
  dns?: string[];
  ip?: string[];
  days?: number;
  out?: string;
  force?: boolean;
}

export function registerCa(program: Command): void {
  const ca = program.command('ca').description('testbed PKI: a CA per operator, PKMF and UE certificates');

  ca.command('init')
    .description('make a CA in DIR (DIR/ca.crt, DIR/ca.key with mode 0600)')
    .argument('<dir>', 'directory for the CA')
    .option('--cn <name>', 'CA common name', 'sl-bridge testbed CA')
    .option('--days <n>', 'validity in days', positive(), 3650)
    .option('--force', 'replace an existing CA')
    .action(async (dir: string, opts: { cn: string; days: number; force?: boolean }) => {
      const { initCa, PkiError } = await import('../pki/ca.js');
      const { CliError } = await import('../cli-error.js');
      try {
        const r = await initCa(dir, { commonName: opts.cn, days: opts.days, force: opts.force });
        process.stdout.write(`CA ${r.subject}\n  certificate ${r.certFile}\n  private key ${r.keyFile} (0600)\n  SHA-256 ${r.fingerprint256}\n`);
      } catch (e) {
        if (e instanceof PkiError) throw new CliError(`ca init: ${e.message}`, 2);
        throw e;
      }
    });

  ca.command('issue')
    .description('issue a UE client certificate (--supi) or a PKMF certificate (--plmn)')
    .argument('<kind>', 'ue or pkmf')
    .requiredOption('--ca <dir>', 'CA directory (made by `ca init`)')
    .option('--supi <supi>', 'UE: its SUPI, e.g. imsi-001010000000001 (URI SAN urn:3gpp:supi:...)')
    .option('--plmn <mcc-mnc>', 'PKMF: its PLMN, e.g. 001-01 (URI SAN urn:3gpp:pkmf:plmn:...)')
    .option('--dns <names>', 'PKMF: DNS names, comma-separated (default localhost)', collectWords)
    .option('--ip <addresses>', 'PKMF: IP addresses, comma-separated (default 127.0.0.1,::1)', collectWords)
    .option('--days <n>', 'validity in days (default: UE 365, PKMF 825)', positive())
    .option('--out <prefix>', 'write PREFIX.crt and PREFIX.key (default: in the CA directory)')
    .option('--force', 'replace existing files')
    .addHelpText(
      'after',
      '\nExamples:\n  sl-bridge ca issue pkmf --ca pki/op1 --plmn 001-01\n  sl-bridge ca issue ue --ca pki/op1 --supi imsi-001010000000001 --out pki/op1/ue1',
    )
    .action(async (kind: string, opts: IssueFlags) => {
      const { issueCertificate, PkiError } = await import('../pki/ca.js');
      const { CliError } = await import('../cli-error.js');
      if (kind !== 'ue' && kind !== 'pkmf') throw new CliError(`ca issue: <kind> must be ue or pkmf, got ${JSON.stringify(kind)}`, 2);
      if (kind === 'ue' && !opts.supi) throw new CliError('ca issue ue: --supi is required', 2);
      if (kind === 'pkmf' && !opts.plmn) throw new CliError('ca issue pkmf: --plmn is required', 2);
      try {
        const r = await issueCertificate({
          caDir: opts.ca,
          kind,
          supi: opts.supi,
          plmn: opts.plmn,
          dns: opts.dns,
          ips: opts.ip,
          days: opts.days,
          out: opts.out,
          force: opts.force,
        });
        process.stdout.write(
          `${kind === 'ue' ? 'UE' : 'PKMF'} certificate ${r.subject}, valid until ${r.notAfter.toISOString()}\n` +
            `  certificate ${r.certFile}\n  private key ${r.keyFile} (0600)\n  SHA-256 ${r.fingerprint256}\n`,
        );
      } catch (e) {
        if (e instanceof PkiError) throw new CliError(`ca issue: ${e.message}`, 2);
        throw e;
      }
    });
}
