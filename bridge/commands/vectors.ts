import { Option, type Command } from 'commander';
// Type-only: the implementation loads lazily in the action.
import type { AesBackend } from '../../src/crypto/aes.js';
import type { VectorsCommandOptions } from '../vectors/run-file.js';

/**
 * src/crypto/aes.ts's AES_BACKENDS, written out so that declaring the command does not load the
 * crypto code (test/integration/vectors.test.ts checks the two lists agree).
 */
const AES_BACKEND_CHOICES: readonly AesBackend[] = ['auto', 'node', 'ts'];

/** `sl-bridge vectors FILE`: check the crypto core against a 3GPP test-vector file. */
export function registerVectors(program: Command): void {
  program
    .command('vectors')
    .description('run a 3GPP test-vector file through the crypto core (NEA/NIA 1-3, UIA2, SNOW 3G, ZUC, KDF)')
    .argument('<file>', 'JSON vector file in the format of test/vectors/README.md (any subset of its groups)')
    .addOption(new Option('--aes-backend <name>', "AES backend for nea2/nia2 (default: auto)").choices(AES_BACKEND_CHOICES))
    .option('-v, --verbose', 'also print one line per passing vector')
    .addHelpText(
      'after',
      '\nPrints one line per failing vector (group, id, expected, got), the groups it does not know\n' +
        'as skipped, and ends with "N passed, M failed". Exit status 1 if any vector failed or the\n' +
        'file is unreadable or malformed (the message names the file and the field).\n\n' +
        'Example (from the repository root, the 3GPP data the tests use):\n  sl-bridge vectors test/vectors/3gpp.json\n',
    )
    .action(async (file: string, flags: VectorsCommandOptions) => {
      const { runVectorsFile } = await import('../vectors/run-file.js');
      const status = runVectorsFile(file, flags, (line) => process.stdout.write(`${line}\n`));
      if (status !== 0) process.exitCode = status;
    });
}
