#!/usr/bin/env node
// Entry point of the exporter mode: node dist/exporter/main.js [flags].
import { parseArgs } from 'node:util';
import { createLogger, parseBindAddress } from '@memcached-operator/runtime';
import { Exporter } from './server.js';

const USAGE = `Usage: memcached-exporter [flags]
  --bind-address ADDR       where to serve /scrape and /healthz (default ":9150")
  --allowed-ports LIST      memcached ports a target may name, comma-separated (default "11211")
  --timeout-ms N            how long a scrape waits on memcached, 1-10000 (default 1000)
  --max-concurrent N        scrapes in flight at once (default 32)
  --log-level LEVEL         error, warn, info, debug (default "info")`;

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function intFlag(name: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) fail(`--${name} must be a whole number from ${min} to ${max}, got "${text}"`);
  return Number(text);
}

function main(): void {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        'bind-address': { type: 'string', default: ':9150' },
        'allowed-ports': { type: 'string', default: '11211' },
        'timeout-ms': { type: 'string', default: '1000' },
        'max-concurrent': { type: 'string', default: '32' },
        'log-level': { type: 'string', default: 'info' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let bind;
  let logger;
  try {
    bind = parseBindAddress(values['bind-address']);
    logger = createLogger(values['log-level']);
  } catch (err) {
    fail((err as Error).message);
  }
  if (!bind) fail('--bind-address "0" would serve nothing');
  const allowedPorts = values['allowed-ports'].split(',').map((p) => intFlag('allowed-ports', p.trim(), 1, 65535));
  const exporter = new Exporter({
    bind,
    allowedPorts,
    timeoutMs: intFlag('timeout-ms', values['timeout-ms'], 1, 10000),
    maxConcurrentScrapes: intFlag('max-concurrent', values['max-concurrent'], 1, 1024),
    logger,
  });
  exporter.start().catch((err: Error) => {
    logger.error('exporter failed to start', { error: err.message });
    process.exit(1);
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void exporter.close().then(() => process.exit(0)));
  }
}

main();
