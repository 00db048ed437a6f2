// Flat config: typescript-eslint's type-aware rules over src, test and bench.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', '.build*/', '.bench*/', 'node_modules/', 'bundle/', '.cluster*/', 'bench/results/'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: ['./tsconfig.test.json'], tsconfigRootDir: import.meta.dirname },
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
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
