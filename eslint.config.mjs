// Lint rules that guard what types cannot: floating promises anywhere, and in workflows/ the
// determinism rules (no Node built-ins, no I/O libraries, activities and stores by type only).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [...NODE_BUILTINS, ...NODE_BUILTINS.map((m) => `node:${m}`), 'knex', 'pg', 'express', 'nodemailer', '@temporalio/client', '@temporalio/worker', '@temporalio/activity']
          .map((name) => ({ name, message: 'workflow code is deterministic: no I/O, no Node built-ins' })),
        patterns: [{ group: ['../activities/*', '../db/*', '../api/*', '../worker/*', '../config/*'], allowTypeImports: true, message: 'workflows may import activities and stores by type only' }],
      }],
    },
  },
);
