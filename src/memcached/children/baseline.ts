// The <name>-baseline ConfigMap: where a cache's anomaly baseline
// (autopilot/baseline.ts, a few hundred bytes) survives an operator restart.
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { Memcached } from '../../api/types.js';
import { crName, objectMeta } from './metadata.js';

export const BASELINE_KEY = 'baseline';

export function baselineConfigMapName(mc: Memcached): string {
  return `${crName(mc)}-baseline`;
}

/** The stored baseline's text, if any. */
export function storedBaselineText(cm: V1ConfigMap | undefined): string | undefined {
  return cm?.data?.[BASELINE_KEY];
}

export function buildBaselineConfigMap(mc: Memcached, text: string): V1ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: objectMeta(mc, baselineConfigMapName(mc)), data: { [BASELINE_KEY]: text } };
}
