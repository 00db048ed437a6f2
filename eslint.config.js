// Flat config: typescript-eslint's type-aware rules over src, test and bench.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

/** src/ may reach the runtime only through its production API, never its internals nor its test doubles. */
const RUNTIME_API = {
  group: ['@memcached-operator/runtime/*', '**/packages/runtime/**'],
  message: 'import the runtime through its public API: @memcached-operator/runtime (its /testing doubles are for test/ and bench/ only)',
};

/**
 * One config object per layer of src/: [files, a regex matching the imports
 * the layer may not make (undefined: none beyond the runtime's), why].
 * Later objects override earlier ones for the files they match, so each one
 * repeats the runtime rule.
 */
function srcLayers(layers) {
  return layers.map(([files, regex, message]) => ({
    files: [files],
    rules: { 'no-restricted-imports': ['error', { patterns: [RUNTIME_API, ...(regex ? [{ regex, message }] : [])] }] },
  }));
}

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
  // Layers: the runtime package knows nothing of the operator, and the
  // operator reaches the runtime only through its public API.
  {
    files: ['packages/runtime/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/../../../src/**', '**/../../../../src/**', 'memcached-operator'], message: 'the runtime package must not import the operator' }] }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['@memcached-operator/runtime/*', '!@memcached-operator/runtime/testing', '**/packages/runtime/**'], message: 'import the runtime through its public API: @memcached-operator/runtime, or its test doubles at @memcached-operator/runtime/testing' }] }],
    },
  },
  // Within src/, arrows point one way, down this list:
  //   main.ts, memcached/ (the loop: controller setup, reconciler, watch
  //     filters, writer, diff, status): anything below;
  //   memcached/tls/, memcached/monitoring/: children/, pods.ts, api,
  //     topology and protocol; never the loop, never each other;
  //   memcached/autopilot/ (the pure auto pilot: settings, signals, policy,
  //     baseline): monitoring/usage.ts (the samples), api, topology and
  //     options.ts (durations); never the loop, children/, servers/ or tls/;
  //   memcached/pods.ts (read by the loop, tls and monitoring): children/;
  //   memcached/children/ (the pure builders): api and topology;
  //   exporter/, keyspace/ (keep the cache): protocol; topology/: api;
  //   api/, protocol/ (the memcached client): nothing of the operator.
  // Each rule is a regular expression over the import path as written; it
  // matches the imports that climb out of the folder to something not below.
  ...srcLayers([
    ['src/**/*.ts', undefined, ''],
    ['src/protocol/**/*.ts', String.raw`^\.\./`, 'src/protocol (the memcached client) imports nothing of the operator'],
    ['src/api/**/*.ts', String.raw`^\.\./`, 'src/api imports nothing of the operator'],
    ['src/topology/**/*.ts', String.raw`^\.\./(?!api/)`, 'src/topology imports only src/api'],
    ['src/keyspace/**/*.ts', String.raw`^\.\./(?!protocol/)`, 'src/keyspace (keep the cache) imports only src/protocol'],
    ['src/exporter/**/*.ts', String.raw`^\.\./(?!protocol/)`, 'src/exporter imports only src/protocol (never memcached/)'],
    ['src/memcached/children/**/*.ts', String.raw`^\.\./(?!\.\./(?:api|topology)/)`, 'memcached/children (pure builders) imports only api and topology: never the loop, tls/ or monitoring/'],
    ['src/memcached/tls/**/*.ts', String.raw`^\.\./(?!children/|pods\.js$|\.\./(?:api|topology|protocol)/)`, 'memcached/tls imports only children/, pods.ts, api, topology and protocol: never the loop (reconciler, watch filters, writer, status), monitoring/, exporter or main'],
    ['src/memcached/monitoring/**/*.ts', String.raw`^\.\./(?!children/|pods\.js$|\.\./(?:api|topology|protocol)/)`, 'memcached/monitoring imports only children/, pods.ts, api, topology and protocol: never the loop (reconciler, watch filters, writer, status), tls/, exporter or main'],
    ['src/memcached/autopilot/**/*.ts', String.raw`^\.\./(?!monitoring/usage\.js$|\.\./(?:api|topology)/|\.\./options\.js$)`, 'memcached/autopilot imports only monitoring/usage.ts (the samples), api, topology and options.ts (durations): never the loop (reconciler, watch filters, writer, status), children/, servers/, tls/, exporter or main'],
    ['src/memcached/pods.ts', String.raw`^\.\./|^\./(?!children/)`, 'memcached/pods.ts is read by tls/ and monitoring/, so it imports only children/'],
  ]),
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
