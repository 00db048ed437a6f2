import { expect } from 'chai';
import http from 'node:http';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { HealthProbeServer, renderChecks } from '../src/health.js';
import { parseBindAddress } from '../src/httpserver.js';
import { createLogger, validateLogLevel } from '../src/logger.js';
import { MetricsServer } from '../src/metrics.js';
import { WorkQueue } from '../src/workqueue.js';
import { recordingLogger } from './fakes.js';

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('runtime/httpserver parseBindAddress', () => {
  it('accepts controller-runtime style addresses', () => {
    expect(parseBindAddress(':8081')).to.deep.equal({ host: undefined, port: 8081 });
    expect(parseBindAddress('127.0.0.1:8080')).to.deep.equal({ host: '127.0.0.1', port: 8080 });
    expect(parseBindAddress('[::1]:9443')).to.deep.equal({ host: '::1', port: 9443 });
    expect(parseBindAddress('localhost:0')).to.deep.equal({ host: 'localhost', port: 0 });
    expect(parseBindAddress('0')).to.equal(undefined);
  });

  it('rejects malformed addresses with a clear error', () => {
    for (const bad of ['8080', ':http', ':70000', '::1:8080', 'host:', '']) {
      expect(() => parseBindAddress(bad), bad).to.throw(/invalid bind address .*expected "host:port"/);
    }
  });
});

describe('runtime/health', () => {
  it('renders ok, verbose and failing responses', () => {
    expect(renderChecks('healthz', [{ name: 'ping', ok: true }], false)).to.deep.equal({ status: 200, body: 'ok' });
    const verbose = renderChecks('readyz', [{ name: 'ping', ok: true }, { name: 'cache', ok: false, reason: 'not synced' }], true);
    expect(verbose.status).to.equal(500);
    expect(verbose.body).to.equal('[+]ping ok\n[-]cache failed: not synced\nreadyz check failed: cache\n');
  });

  it('serves /healthz and /readyz over HTTP with 200 and 500', async () => {
    const { logger } = recordingLogger();
    const server = new HealthProbeServer({ bindAddress: '127.0.0.1:0', logger });
    let ready = false;
    server.addHealthzCheck('ping', () => undefined);
    server.addReadyzCheck('cache', () => ready);
    server.addReadyzCheck('async', () => Promise.resolve());
    const address = await server.start();
    try {
      const port = address?.port ?? 0;
      expect(await httpGet(port, '/healthz')).to.deep.equal({ status: 200, body: 'ok' });
      const notReady = await httpGet(port, '/readyz');
      expect(notReady.status).to.equal(500);
      expect(notReady.body).to.contain('[-]cache failed').and.to.contain('readyz check failed: cache');
      expect(notReady.body).to.not.contain('async');
      ready = true;
      expect(await httpGet(port, '/readyz')).to.deep.equal({ status: 200, body: 'ok' });
      const verbose = await httpGet(port, '/readyz?verbose');
      expect(verbose.body).to.contain('[+]cache ok').and.to.contain('[+]async ok');
      expect((await httpGet(port, '/nope')).status).to.equal(404);
    } finally {
      await server.close();
    }
  });

  it('treats a throwing check as failed and refuses duplicate names', async () => {
    const { logger } = recordingLogger();
    const server = new HealthProbeServer({ bindAddress: '127.0.0.1:0', logger });
    server.addHealthzCheck('broken', () => {
      throw new Error('deadlocked');
    });
    expect(() => server.addHealthzCheck('broken', () => undefined)).to.throw(/already registered/);
    const address = await server.start();
    try {
      const res = await httpGet(address?.port ?? 0, '/healthz');
      expect(res.status).to.equal(500);
      expect(res.body).to.contain('[-]broken failed: deadlocked');
    } finally {
      await server.close();
    }
  });

  it('is disabled by bind address "0"', async () => {
    const { logger } = recordingLogger();
    const server = new HealthProbeServer({ bindAddress: '0', logger });
    expect(await server.start()).to.equal(undefined);
    await server.close();
  });
});

describe('runtime/metrics server', () => {
  it('serves the injected registry, with process and workqueue metrics', async () => {
    const { logger } = recordingLogger();
    const registry = new Registry();
    new WorkQueue({ name: 'served', registry }).add('x');
    const server = new MetricsServer({ bindAddress: '127.0.0.1:0', registry, logger });
    const address = await server.start();
    try {
      const res = await httpGet(address?.port ?? 0, '/metrics');
      expect(res.status).to.equal(200);
      expect(res.body).to.contain('workqueue_depth{controller="served",name="served"} 1');
      expect(res.body).to.contain('process_cpu_user_seconds_total');
      expect((await httpGet(address?.port ?? 0, '/other')).status).to.equal(404);
    } finally {
      await server.close();
    }
  });
});

describe('runtime/logger', () => {
  it('writes one JSON object per line with timestamp, level, msg and fields', () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const logger = createLogger('info', { stream });
    logger.debug('hidden');
    logger.info('reconciled', { namespace: 'ns', name: 'a' });
    expect(lines).to.have.length(1);
    const entry = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(entry).to.include({ level: 'info', msg: 'reconciled', namespace: 'ns', name: 'a' });
    expect(entry.timestamp).to.be.a('string');
    expect(entry).to.not.have.property('message');
  });

  it('rejects unknown levels with the valid choices', () => {
    expect(validateLogLevel('debug')).to.equal('debug');
    expect(() => createLogger('loud')).to.throw(/invalid log level "loud": expected one of error, warn, info/);
  });
});
