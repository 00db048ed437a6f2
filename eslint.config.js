// Flat config: typescript-eslint's type-aware rules over src, test and bench.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/', '**/.build*/', '.bench*/', 'node_modules/', 'bundle/', '.cluster*/', 'bench/results/'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: ['./tsconfig.test.json', './packages/runtime/tsconfig.test.json'], tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': [
        'error',
        { object: 'describe', property: 'only', message: 'focused tests hide failures' },
        { object: 'it', property: 'only', message: 'focused tests hide failures' },
        { object: 'describe', property: 'skip', message: 'skipped tests hide failures' },
        { object: 'it', property: 'skip', message: 'skipped tests hide failures' },
      ],
    },
  },
  // Layers: the runtime package knows nothing of the operator; the operator
  // reaches the runtime only through its public API; within src/, lower
  // layers (api, topology) never import upper ones (memcached, main).
  {
    files: ['packages/runtime/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/../../../src/**', '**/../../../../src/**', 'memcached-operator'], message: 'the runtime package must not import the operator' }] }],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['@memcached-operator/runtime/*', '**/packages/runtime/**'], message: 'import the runtime through its public API: @memcached-operator/runtime (its /testing doubles are for test/ and bench/ only)' }] }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['@memcached-operator/runtime/*', '!@memcached-operator/runtime/testing', '**/packages/runtime/**'], message: 'import the runtime through its public API: @memcached-operator/runtime, or its test doubles at @memcached-operator/runtime/testing' }] }],
    },
  },
  {
    files: ['src/topology/**/*.ts', 'src/api/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['../memcached/*', '../main.js', '../options.js'], message: 'a lower layer must not import an upper one' }] }],
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
