import type { Command } from 'commander';

interface VectorsFlags {
  aesBackend?: string;
  verbose?: boolean;
}

/** `sl-bridge vectors FILE`: check the crypto core against a 3GPP test-vector file. */
export function registerVectors(program: Command): void {
  program
    .command('vectors')
    .description('run a 3GPP test-vector file through the crypto core (NEA/NIA 1-3, UIA2, SNOW 3G, ZUC, KDF)')
    .argument('<file>', 'JSON vector file in the format of test/vectors/README.md (any subset of its groups)')
    .option('--aes-backend <name>', "AES backend for nea2/nia2: 'auto' (default), 'node' or 'ts'")
    .option('-v, --verbose', 'also print one line per passing vector')
    .addHelpText(
      'after',
      '\nPrints one line per failing vector (group, id, expected, got), the groups it does not know\n' +
        'as skipped, and ends with "N passed, M failed". Exit status 1 if any vector failed or the\n' +
        'file is unreadable or malformed (the message names the file and the field).\n\n' +
        'Example (from the repository root, the 3GPP data the tests use):\n  sl-bridge vectors test/vectors/3gpp.json\n',
    )
    .action(async (file: string, flags: VectorsFlags) => {
      const { runVectorsFile } = await import('../vectors/run-file.js');
      const status = runVectorsFile(file, flags, (line) => process.stdout.write(`${line}\n`));
      if (status !== 0) process.exitCode = status;
    });
}
