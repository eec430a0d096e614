// Lint rules: typescript-eslint's recommended set on the TypeScript sources, and the layering
// src/ <- bridge/ (test/unit/lint-layering.test.ts).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Node built-ins and packages that do I/O, start processes or threads, or read the host or its
 * clocks. Built-ins such as node:crypto, node:zlib (crc32) and node:perf_hooks' createHistogram
 * stay allowed: pure computation.
 */
const SRC_FORBIDDEN_BUILTINS = [
  'fs',
  'fs/promises',
  'net',
  'dgram',
  'tls',
  'http',
  'https',
  'http2',
  'dns',
  'dns/promises',
  'child_process',
  'cluster',
  'worker_threads',
  'os',
  'process',
  'timers',
  'timers/promises',
  'readline',
  'repl',
  'inspector',
  'module',
  'sqlite',
];
const SRC_FORBIDDEN_MODULES = [
  ...SRC_FORBIDDEN_BUILTINS.flatMap((name) => [name, `node:${name}`]),
  'zeromq',
  'serialport',
  'better-sqlite3',
  'pino',
  'pino-pretty',
];
const NOT_IN_SRC = 'src/ is the I/O-free core: do this in bridge/ and inject it.';
/** perf_hooks also holds the pure createHistogram; only its clocks are refused. */
const PERF_HOOKS_CLOCKS = ['performance', 'monitorEventLoopDelay', 'PerformanceObserver', 'timerify'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bridge/shims/**', 'bridge/wireshark/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // README.md's layout: src/ is the I/O-free core; whatever touches sockets, files, processes,
    // clocks or the host lives in bridge/, which imports src/, never the reverse.
    files: ['src/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...SRC_FORBIDDEN_MODULES.map((name) => ({ name, message: NOT_IN_SRC })),
            ...['perf_hooks', 'node:perf_hooks'].map((name) => ({ name, importNames: PERF_HOOKS_CLOCKS, message: NOT_IN_SRC })),
          ],
          patterns: [
            {
              regex: '^(\\.\\.?/)+([^/]+/)*(bridge|test)(/|$)',
              message: 'src/ must not depend on bridge/ or test/: bridge/ imports src/, never the reverse.',
            },
            { group: ['@serialport/*'], message: NOT_IN_SRC },
          ],
        },
      ],
      // import() could reach any of the above past the rule; the core has no use for it.
      'no-restricted-syntax': ['error', { selector: 'ImportExpression', message: 'src/ imports statically (see the restricted imports above).' }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
