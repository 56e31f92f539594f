import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** A layer may not import these (globs relative to the importing file's directory, one level down in src/). */
const UPPER = {
  adapters: ['../api', '../api/*', '../http/*'],
  composition: ['../master', '../cli', '../cli/*', '../../worker'],
};
const forbid = (groups, message) => ({ group: groups, message });

/**
 * The layering of docs/architecture.md as rules: src/domain (pure) <- src/entities <- src/operations
 * <- adapters <- composition. Type-only imports of activities are what workflows are allowed.
 */
function layeringRules() {
  const adapterDirs = [
    '../activities',
    '../activities/*',
    '../swarm',
    '../swarm/*',
    '../agent',
    '../agent/*',
    '../compose',
    '../compose/*',
    '../bus',
    '../bus/*',
    '../infra',
    '../infra/*',
  ];
  const nodeIo = [
    'node:*',
    'fs',
    'fs/*',
    'net',
    'http',
    'https',
    'child_process',
    'dockerode',
    'undici',
    'pg',
    'pg-listen',
    'express',
    '@mikro-orm/*',
    '@temporalio/client',
    '@temporalio/worker',
    '@temporalio/activity',
  ];
  const restrict = (files, patterns) => ({
    files,
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: patterns.map((p) => ({ ...p, allowTypeImports: p.allowTypeImports ?? false })) }],
    },
  });
  const below = 'lower layers never import upper ones (docs/architecture.md, "Layers")';
  return [
    restrict(
      ['src/domain/**/*.ts'],
      [
        forbid(
          [
            '../entities',
            '../entities/*',
            '../db',
            '../db/*',
            '../operations',
            '../operations/*',
            ...adapterDirs,
            ...UPPER.adapters,
            '../workflows',
            '../workflows/*',
            ...UPPER.composition,
          ],
          `src/domain is pure: ${below}`,
        ),
      ],
    ),
    restrict(
      ['src/entities/**/*.ts', 'src/db/**/*.ts'],
      [forbid(['../operations', '../operations/*', ...adapterDirs, ...UPPER.adapters, '../workflows', '../workflows/*', ...UPPER.composition], below)],
    ),
    restrict(
      ['src/operations/**/*.ts'],
      [
        forbid([...adapterDirs, ...UPPER.adapters, ...UPPER.composition], below),
        // Workflows are started by name: their types check the names and arguments.
        { group: ['../workflows', '../workflows/*'], allowTypeImports: true, message: 'operations start workflows by name; import their types only' },
      ],
    ),
    restrict(
      ['src/activities/**/*.ts', 'src/swarm/**/*.ts', 'src/agent/**/*.ts', 'src/compose/**/*.ts', 'src/bus/**/*.ts', 'src/infra/**/*.ts'],
      [forbid(['../api', '../api/*', ...UPPER.composition], `the operators' API is an adapter of its own: ${below}; shared HTTP plumbing is in src/http`)],
    ),
    restrict(
      ['src/http/**/*.ts'],
      [forbid(['../api', '../api/*', ...adapterDirs, ...UPPER.composition], `src/http is the plumbing the adapters share: it imports none of them (${below})`)],
    ),
    restrict(
      ['src/workflows/**/*.ts'],
      [
        {
          group: ['../activities', '../activities/*', '../swarm/*'],
          allowTypeImports: true,
          message: 'workflow code only imports types from activities and adapters (it runs in the sandbox; activities run outside it)',
        },
        forbid(
          [...nodeIo, '../entities', '../entities/*', '../operations', '../operations/*', '../db', '../db/*', ...UPPER.adapters, ...UPPER.composition],
          'workflow code is deterministic: no I/O, no database, no adapters',
        ),
      ],
    ),
  ];
}

export default defineConfig(
  { ignores: ['dist/', 'web/dist/', 'node_modules/', '.test-data/', '.decnet/', 'test-artifacts/', 'coverage/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // `_name` marks a parameter or binding kept on purpose (callbacks, destructuring).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  ...layeringRules(),
  {
    // Tests poke at loosely shaped JSON and mocks; `any` there is not worth the ceremony.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Plain CommonJS files run by Node or jest directly (jest.config.js, the summary reporter).
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { module: 'writable', require: 'readonly', process: 'readonly', __dirname: 'readonly', console: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
