// Lint rules that guard what types cannot: floating promises anywhere; in workflows/ the
// determinism rules (no Node built-ins, no I/O libraries, activities and stores by type only); and
// the direction of every dependency between the layers (docs/architecture.md):
//   domain/  pure rules, money, the customer matching engine: imports nothing of ours, does no I/O
//   config/  settings and files read at start-up: may use domain/
//   db/      stores, migrations, COPY: may use domain/ and config/
//   workflows/  deterministic processes: domain/ and their own lib/, activities and stores by type
//   activities/ the processes' side effects: db/, domain/, config/, the workflows' contracts
//   api/     HTTP: db/, domain/, config/, the workflows' contracts (their functions by type only);
//            a route never imports a sibling route (shared pieces live in api/views, api/processes,
//            api/schemas)
//   worker/  wires activities and workflows: anything but api/
// There is no exceptions list: a new import that points the wrong way fails `npm test`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** An import of one of our top-level folders, from anywhere below the root. */
const ours = (folders) => `^(\\.\\./)+(${folders.join('|')})(/|$)`;
/** A workflow module other than a contract or the search attributes (its entry points). */
const WORKFLOW_INTERNALS = '^(\\.\\./)+workflows/(?!([A-Za-z]+\\.contract|searchAttributes)$)';
const layer = (message, ...regexes) => regexes.map((regex) => ({ regex, message }));
const layerRule = (...patterns) => ['error', { patterns: patterns.flat() }];

const NODE_BUILTINS = ['assert', 'buffer', 'child_process', 'crypto', 'dns', 'events', 'fs', 'http', 'https', 'net', 'os', 'path', 'process', 'stream', 'timers', 'url', 'util', 'worker_threads', 'zlib'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tools/**', '.data/**', '**/*.mjs', 'console/dist/**', 'console/dist.*/**', 'console/src/api/schema.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // Issue 11: the tests read what the API documents, through types (test/helpers/apiTypes.ts).
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'error' },
  },
  {
    files: ['domain/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [...['fs', 'fs/promises', 'net', 'http', 'https', 'child_process', 'worker_threads'].flatMap((m) => [m, `node:${m}`]), 'knex', 'pg', 'express', '@temporalio/client', '@temporalio/worker', '@temporalio/activity', '@temporalio/workflow']
          .map((name) => ({ name, message: 'domain/ is pure: no I/O, no framework' })),
        patterns: layer('domain/ imports nothing of ours: the other layers depend on it', ours(['api', 'activities', 'db', 'worker', 'workflows', 'config', 'scripts', 'bench', 'test'])),
      }],
    },
  },
  {
    files: ['config/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': layerRule(layer('config/ may use domain/ only', ours(['api', 'activities', 'db', 'worker', 'workflows', 'scripts']))) },
  },
  {
    files: ['db/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': layerRule(layer('db/ may use domain/ and config/ only (facts and rules live in domain/)', ours(['api', 'activities', 'worker', 'workflows', 'scripts']))) },
  },
  {
    files: ['activities/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': layerRule(
        layer('activities/ may not use api/ or worker/', ours(['api', 'worker', 'scripts'])),
        layer('activities/ use a workflow through its contract only', WORKFLOW_INTERNALS),
      ),
    },
  },
  {
    files: ['api/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': layerRule(
        layer('api/ may not use activities/ or worker/', ours(['activities', 'worker', 'scripts'])),
        { regex: WORKFLOW_INTERNALS, allowTypeImports: true, message: 'api/ uses a workflow through its contract (its function by type only)' },
      ),
    },
  },
  {
    files: ['api/routes/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': layerRule(
        layer('api/ may not use activities/ or worker/', ours(['activities', 'worker', 'scripts'])),
        { regex: WORKFLOW_INTERNALS, allowTypeImports: true, message: 'api/ uses a workflow through its contract (its function by type only)' },
        layer('a route imports no sibling route: shared pieces go to api/views, api/processes or api/schemas', '^\\./'),
      ),
    },
  },
  {
    files: ['worker/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': layerRule(layer('worker/ may not use api/', ours(['api']))) },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [...NODE_BUILTINS, ...NODE_BUILTINS.map((m) => `node:${m}`), 'knex', 'pg', 'express', 'nodemailer', '@temporalio/client', '@temporalio/worker', '@temporalio/activity']
          .map((name) => ({ name, message: 'workflow code is deterministic: no I/O, no Node built-ins' })),
        patterns: [
          { group: ['../activities/*', '../db/*', '../api/*', '../worker/*', '../config/*'], allowTypeImports: true, message: 'workflows may import activities and stores by type only' },
          { regex: ours(['api', 'worker', 'scripts']), message: 'workflows/ may not use api/ or worker/' },
        ],
      }],
    },
  },
);
