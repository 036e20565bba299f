// What of a user's object rekey keeps: its metadata without annotations and managedFields. A
// metadata-only answer (PartialObjectMetadata, the list and patch responses of R4) still carries
// every annotation, and those can hold a Secret's values: `kubectl apply` (client-side) stores the
// whole manifest, `data` included, in `kubectl.kubernetes.io/last-applied-configuration`, and any
// tool may put anything into an annotation of a Secret. rekey needs none of them (namespace, name,
// uid and resourceVersion are all it acts on; forced rewrites only write an annotation), so they
// are dropped while the answer is parsed, before anything else in rekey can hold them
// (docs/architecture.md R12). managedFields goes too: it is bulky and names fields only, but
// nothing in rekey reads it.
import type { RestClient } from './rest-client.ts';

/** What stands in for a JSON answer that does not parse (its text is not passed on). */
export const UNREADABLE = 'an unreadable JSON answer (not passed on)';

/** Keys of an object's `metadata` that are never kept. */
const DROPPED = new Set(['annotations', 'managedFields']);

/**
 * Drops the unkept keys of every `metadata` object in a parsed answer, in place. It does not go
 * into what it drops (managedFields can be as deep as the object's schema). A walk after a plain
 * JSON.parse rather than a reviver: a reviver is called back for every key of the answer, which
 * made this parse the costliest part of rekey's own code per patch in the bench's CPU profile
 * (after Node's HTTP client and the garbage collector); the walk visits only objects and arrays.
 */
function dropUnkept(value: unknown, key: string | undefined): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const item of value) dropUnkept(item, undefined);
    return;
  }
  const o = value as Record<string, unknown>;
  if (key === 'metadata') for (const k of DROPPED) delete o[k];
  for (const k of Object.keys(o)) dropUnkept(o[k], k);
}

/**
 * Parses a Kubernetes answer (an object, a list, a Status) as JSON, without the annotations and
 * managedFields of any `metadata` in it. Throws as JSON.parse does.
 */
export function parseWithoutAnnotations<T = unknown>(body: string): T {
  const value: unknown = JSON.parse(body);
  dropUnkept(value, undefined);
  return value as T;
}

/**
 * A REST client whose JSON answers have lost every `metadata.annotations` and
 * `metadata.managedFields` before its caller sees them; other answers (metrics text, errors that
 * are not JSON) pass unchanged. For the calls that touch users' objects, never rekey's own records
 * (whose annotations are rekey's state).
 */
export function withoutAnnotations(rest: RestClient): RestClient {
  return {
    async request(req) {
      const res = await rest.request(req);
      const type = res.headers['content-type'];
      const json = String(Array.isArray(type) ? type[0] : (type ?? '')).includes('json');
      if (!json || res.body === '') return res;
      try {
        return { ...res, body: JSON.stringify(parseWithoutAnnotations(res.body)) };
      } catch {
        // a JSON answer cut off or garbled: its text may hold the values, and no reader can use it
        return { ...res, body: UNREADABLE };
      }
    },
    close: () => rest.close(),
  };
}
