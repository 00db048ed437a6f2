import type { V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';
import { API_VERSION, KIND, type Memcached } from '../api/types.js';
import { crName, standardLabels } from './labels.js';

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
