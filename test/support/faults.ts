// Fault injection on the local cluster (test/cluster/cluster.sh), for the
// suites and the benchmark alike:
// - an apiserver outage: cluster.sh stops the kube-apiserver (recording its
//   command line), and this module holds its port meanwhile, resetting every
//   connection, so clients see an apiserver that is down and no other
//   cluster starting in parallel can take the port; startApiserver() frees
//   the port and has cluster.sh start the same command line again;
// - a frozen kwok controller (SIGSTOP), so that a node marked NotReady stays
//   NotReady until thawed.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import type * as k8s from '@kubernetes/client-node';
import { clusterStateDir, loadKubeConfig, repoRoot } from './cluster.js';

const run = promisify(execFile);
const CLUSTER_SCRIPT = path.join(repoRoot, 'test', 'cluster', 'cluster.sh');
const KWOK_PID_FILE = path.join(clusterStateDir, 'kwok', 'clusters', 'memcached-operator', 'pids', 'kwok-controller.pid');

let placeholder: net.Server | undefined;

/** The port of the stopped apiserver, from the command line cluster.sh recorded. */
function stoppedApiserverPort(): number | undefined {
  const cmdline = readFileSync(path.join(clusterStateDir, 'apiserver.cmdline'), 'utf8');
  const m = /^--secure-port=(\d+)$/m.exec(cmdline);
  return m ? Number(m[1]) : undefined;
}

/** Binds `port`, retrying for up to 10 s while the dying apiserver still holds it. */
async function holdPort(port: number): Promise<net.Server> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const server = net.createServer((socket) => socket.destroy());
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, () => resolve());
      });
      return server;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`could not hold the apiserver's port ${port}: ${String(err)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Stops the kube-apiserver alone (clients see connections reset) until startApiserver(). */
export async function stopApiserver(): Promise<void> {
  await run(CLUSTER_SCRIPT, ['stop-apiserver'], { env: process.env });
  const port = stoppedApiserverPort();
  if (port !== undefined) placeholder = await holdPort(port);
}

/** Starts the kube-apiserver again with the same command line; returns a fresh KubeConfig. */
export async function startApiserver(): Promise<k8s.KubeConfig> {
  const held = placeholder;
  placeholder = undefined;
  if (held) await new Promise<void>((resolve) => held.close(() => resolve()));
  await run(CLUSTER_SCRIPT, ['start-apiserver'], { env: process.env });
  return loadKubeConfig();
}

let kwokFrozen = false;

function kwokPid(): number {
  return Number(readFileSync(KWOK_PID_FILE, 'utf8').trim());
}

/** Freezes kwok's controller (SIGSTOP): node and Pod status stop changing. */
export function freezeKwok(): void {
  if (kwokFrozen) return;
  process.kill(kwokPid(), 'SIGSTOP');
  kwokFrozen = true;
}

export function thawKwok(): void {
  if (!kwokFrozen) return;
  kwokFrozen = false;
  process.kill(kwokPid(), 'SIGCONT');
}
