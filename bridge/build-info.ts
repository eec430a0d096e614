/**
 * Which sl-bridge this is: the package version and the git commit it was built from, for
 * `--version`, the `slbridge_build_info` metric and the run metadata of benchmarks. The commit is
 * read from the clone (`git rev-parse HEAD`), or from dist/build-info.json that `npm run build`
 * writes (scripts/gen-build-info.mjs) for an installation without its .git; null when neither.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BuildInfo {
  version: string;
  commit: string | null;
  /** The commit with `-dirty` when the clone has uncommitted changes. */
  describe: string | null;
}

let cached: BuildInfo | undefined;

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

function git(root: string, args: string[]): string | null {
  try {
    return execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
  } catch {
    return null;
  }
}

/** The package version alone (no git call). */
export function buildInfoVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0'; // an installation without its package.json
  }
}

export function buildInfo(): BuildInfo {
  if (cached) return cached;
  const root = packageRoot();
  const version = buildInfoVersion();
  let commit: string | null = null;
  let describe: string | null = null;
  if (existsSync(join(root, '.git'))) {
    commit = git(root, ['rev-parse', 'HEAD']);
    if (commit) describe = (git(root, ['status', '--porcelain', '--untracked-files=no']) ?? '') === '' ? commit : `${commit}-dirty`;
  } else {
    try {
      const saved = JSON.parse(readFileSync(resolve(root, 'dist/build-info.json'), 'utf8')) as { commit?: string | null };
      commit = saved.commit ?? null;
      describe = commit;
    } catch {
      /* not built from a clone */
    }
  }
  cached = { version, commit, describe };
  return cached;
}

/** `0.1.0 (commit 1a2b3c4d5e6f)` or `0.1.0 (commit unknown)`. */
export function versionLine(): string {
  const b = buildInfo();
  return `${b.version} (commit ${b.describe ? b.describe.replace(/^([0-9a-f]{12})[0-9a-f]*/, '$1') : 'unknown'})`;
}
