// Labels of every object the operator creates for one Memcached, following
// the app.kubernetes.io recommended labels.
import type { Memcached } from '../api/types.js';

export const APP_NAME = 'memcached';
export const MANAGED_BY = 'memcached-operator';
export const COMPONENT = 'cache';

/**
 * The labels that select a Memcached's pods. A Deployment's selector is
 * immutable, so it holds only what never changes for one CR: name and
 * instance. Nothing version-, image- or spec-dependent may go here.
 */
export function selectorLabels(mc: Memcached): Record<string, string> {
  return {
    'app.kubernetes.io/name': APP_NAME,
    'app.kubernetes.io/instance': crName(mc),
  };
}

/** All labels of the objects (and pods) of a Memcached: the selector plus descriptive ones. */
export function standardLabels(mc: Memcached): Record<string, string> {
  return {
    ...selectorLabels(mc),
    'app.kubernetes.io/component': COMPONENT,
    'app.kubernetes.io/part-of': APP_NAME,
    'app.kubernetes.io/managed-by': MANAGED_BY,
  };
}

export function crName(mc: Memcached): string {
  const name = mc.metadata.name;
  if (!name) throw new Error('Memcached has no metadata.name');
  return name;
}
