// Port: finding one object by name, as metadata only, so a retry pass can re-patch the few objects
// that kept a revision Degraded without listing their whole resource again (docs/architecture.md R13).
import type { CallOptions, ObjectRef } from './object-rewriter.ts';

/**
 * Finds objects by name. Guarantees: metadata only (never `data`), with the `list` permission the
 * migration already has (a field-selected list, not a `get`); undefined when the object is gone;
 * a failed lookup throws an error that declares whether another attempt may succeed
 * (shared/ports/retryable.ts).
 */
export interface ObjectLookup {
  find(
    resource: string,
    namespace: string,
    name: string,
    options?: CallOptions,
  ): Promise<ObjectRef | undefined>;
}
