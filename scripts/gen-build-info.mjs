// Writes dist/build-info.json (the commit this build comes from) so that an installation without
// its .git can still say which commit it runs (bridge/build-info.ts). `npm run build` runs this.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let commit = null;
try {
  commit = execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
} catch {
  // Not a clone (a packed tarball): dist/build-info.json keeps whatever the packer's build wrote.
  process.exit(0);
}
mkdirSync(join(root, 'dist'), { recursive: true });
writeFileSync(join(root, 'dist/build-info.json'), `${JSON.stringify({ commit })}\n`);
