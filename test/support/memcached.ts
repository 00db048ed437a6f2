// Helpers for suites that create and inspect Memcached objects.
import * as k8s from '@kubernetes/client-node';
import { findCondition } from '@memcached-operator/runtime';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Memcached, MemcachedSpec } from '../../src/api/types.js';
import { eventually, kubectl, repoRoot } from './cluster.js';

export const crdFile = path.join(repoRoot, 'config', 'crd', 'bases', 'cache.example.com_memcacheds.yaml');

/** Installs (or restores) the real Memcached CRD and waits until it is served. */
export function installCrd(): void {
  kubectl(['apply', '--server-side', '--force-conflicts', '-f', crdFile]);
  kubectl(['wait', '--for', 'condition=Established', '--timeout', '60s', 'crd/memcacheds.cache.example.com']);
}

export function sampleManifest(): string {
  return readFileSync(path.join(repoRoot, 'config', 'samples', 'cache_v1alpha1_memcached.yaml'), 'utf8');
}

export class Memcacheds {
  private readonly api: k8s.CustomObjectsApi;
  constructor(kc: k8s.KubeConfig, private readonly namespace: string) {
    this.api = kc.makeApiClient(k8s.CustomObjectsApi);
  }

  private params() {
    return { group: 'cache.example.com', version: 'v1alpha1', namespace: this.namespace, plural: 'memcacheds' };
  }

  private named(name: string) {
    return { ...this.params(), name };
  }

  async create(name: string, spec: MemcachedSpec = {}): Promise<Memcached> {
    return (await this.api.createNamespacedCustomObject({
      ...this.params(),
      body: { apiVersion: 'cache.example.com/v1alpha1', kind: 'Memcached', metadata: { name }, spec },
    })) as Memcached;
  }

  async get(name: string): Promise<Memcached | undefined> {
    try {
      return (await this.api.getNamespacedCustomObject(this.named(name))) as Memcached;
    } catch (err) {
      if (err instanceof k8s.ApiException && err.code === 404) return undefined;
      throw err;
    }
  }

  async list(): Promise<Memcached[]> {
    return ((await this.api.listNamespacedCustomObject(this.params())) as { items: Memcached[] }).items;
  }

  async patchSpec(name: string, spec: Partial<MemcachedSpec>): Promise<void> {
    await this.api.patchNamespacedCustomObject(
      { ...this.named(name), body: { spec } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }

  async delete(name: string): Promise<void> {
    await this.api.deleteNamespacedCustomObject(this.named(name));
  }

  /** Waits until the object reports Available=True for its current generation with every desired replica Ready. */
  async waitAvailable(name: string, timeoutMs = 60_000): Promise<Memcached> {
    return eventually(
      `Memcached ${this.namespace}/${name} to be Available`,
      async () => {
        const mc = await this.get(name);
        const available = condition(mc, 'Available');
        const fresh = mc?.status?.observedGeneration === mc?.metadata.generation;
        return available?.status === 'True' && fresh ? mc : undefined;
      },
      { timeoutMs },
    );
  }
}

/** The Memcached's condition of the given type, if it has one. */
export function condition(mc: Memcached | undefined, type: string) {
  return findCondition(mc?.status?.conditions, type);
}
