// The metadata of every object the operator creates for one Memcached: its
// name, the app.kubernetes.io recommended labels, and the controller
// reference; and what the Memcached's own finalizer list must become. Pure.
import type { V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';
import { API_VERSION, KIND, LEGACY_FINALIZER, type Memcached } from '../../api/types.js';

export const APP_NAME = 'memcached';
export const MANAGED_BY = 'memcached-operator';
export const COMPONENT = 'cache';

// The app.kubernetes.io recommended label keys.
export const NAME_LABEL = 'app.kubernetes.io/name';
export const INSTANCE_LABEL = 'app.kubernetes.io/instance';
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
export const PART_OF_LABEL = 'app.kubernetes.io/part-of';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';

/**
 * The labels that select a Memcached's pods. A Deployment's selector is
 * immutable, so it holds only what never changes for one CR: name and
 * instance. Nothing version-, image- or spec-dependent may go here.
 */
export function selectorLabels(mc: Memcached): Record<string, string> {
  return {
    [NAME_LABEL]: APP_NAME,
    [INSTANCE_LABEL]: crName(mc),
  };
}

/** All labels of the objects (and pods) of a Memcached: the selector plus descriptive ones. */
export function standardLabels(mc: Memcached): Record<string, string> {
  return {
    ...selectorLabels(mc),
    [COMPONENT_LABEL]: COMPONENT,
    [PART_OF_LABEL]: APP_NAME,
    [MANAGED_BY_LABEL]: MANAGED_BY,
  };
}

export function crName(mc: Memcached): string {
  const name = mc.metadata.name;
  if (!name) throw new Error('Memcached has no metadata.name');
  return name;
}

/** The controller reference every object of a Memcached carries, so deleting the CR garbage-collects them. */
export function ownerReference(mc: Memcached): V1OwnerReference {
  const uid = mc.metadata.uid;
  if (!uid) throw new Error(`Memcached ${crName(mc)} has no metadata.uid`);
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: crName(mc),
    uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Metadata of an object owned by mc: name, mc's namespace, the standard labels, the controller reference. */
export function objectMeta(mc: Memcached, name: string): V1ObjectMeta {
  const meta: V1ObjectMeta = { name };
  if (mc.metadata.namespace) meta.namespace = mc.metadata.namespace;
  meta.labels = standardLabels(mc);
  meta.ownerReferences = [ownerReference(mc)];
  return meta;
}

/**
 * What a Memcached's finalizer list must become so that it no longer carries
 * the legacy finalizer (see LEGACY_FINALIZER); pure, so the "one write per
 * legacy object, never again" rule is table-tested. The finalizers to write so the legacy one is gone, or undefined when there
 * is nothing to write (it is not there). Other controllers' finalizers stay,
 * in their order.
 */
export function withoutLegacyFinalizer(finalizers: readonly string[] | undefined): string[] | undefined {
  if (!finalizers?.includes(LEGACY_FINALIZER)) return undefined;
  return finalizers.filter((f) => f !== LEGACY_FINALIZER);
}

/**
 * The StatefulSet's governing Service: each server's stable DNS name is
 * `<name>-<ordinal>.<name>-servers.<namespace>.svc`, the names of the
 * published server list (servers.ts).
 */
export function serversServiceName(mc: Memcached): string {
  return `${crName(mc)}-servers`;
}

/**
 * Set on a server's pod when the operator restarts its memcached in place:
 * the container's restart count then. A clean exit up to the next count is
 * the operator's warm restart, not a failing liveness probe (pods.ts).
 */
export const RESTART_FROM_ANNOTATION = 'cache.example.com/restart-from';
