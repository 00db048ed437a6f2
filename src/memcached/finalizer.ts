// The legacy finalizer (see LEGACY_FINALIZER): what a Memcached's finalizer
// list must become so that it no longer carries it. A pure decision, so the
// "one write per legacy object, never again" rule is table-tested.
import { LEGACY_FINALIZER } from '../api/types.js';

/**
 * The finalizers to write so the legacy one is gone, or undefined when there
 * is nothing to write (it is not there). Other controllers' finalizers stay,
 * in their order.
 */
export function withoutLegacyFinalizer(finalizers: readonly string[] | undefined): string[] | undefined {
  if (!finalizers?.includes(LEGACY_FINALIZER)) return undefined;
  return finalizers.filter((f) => f !== LEGACY_FINALIZER);
}
