// The StoredEncryptionReader port on etcd: one linearizable Range over the span of a page's keys
// (a listed page is in etcd key order, so the span holds the page and at most what was created in
// between), paged in bounded reads; each value is classified (shared/domain/encrypted-value.ts)
// and dropped on the spot, only the classification of the page's own keys is kept. Each Range
// asks for at most STORED_PAGE_SIZE values, so that its answer fits STORED_MAX_RECEIVE_BYTES
// even when every value is as large as etcd stores by default (1.5 MiB): a few large Secrets
// must not fail the read (gRPC's default limit of 4 MiB would, at three).
import { classifyValue } from '../../domain/encrypted-value.ts';
import { parseGroupResource } from '../../domain/group-resource.ts';
import type { StoredEncryption } from '../../domain/stale-split.ts';
import { storagePrefix } from '../../domain/storage-paths.ts';
import type { StoredEncryptionReader, StoredObjectName } from '../../ports/stored-encryption.ts';
import { type RangeReader, SCAN_MAX_RECEIVE_BYTES } from './inspector.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Compares byte strings as etcd orders keys. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** The smallest key after `key`: keys are byte strings, so `key` + one zero byte. */
function after(key: Uint8Array): Uint8Array {
  const next = new Uint8Array(key.length + 1);
  next.set(key);
  return next;
}

/** Values per Range: 40 × 1.5 MiB (etcd's default --max-request-bytes) stays under the limit below. */
export const STORED_PAGE_SIZE = 40;

/** The answer size the reader's etcd client accepts (connectEtcd's maxReceiveBytes): the scans'. */
export const STORED_MAX_RECEIVE_BYTES = SCAN_MAX_RECEIVE_BYTES;

export function createStoredEncryptionReader(
  read: RangeReader,
  {
    prefix = '/registry',
    pageSize = STORED_PAGE_SIZE,
  }: { prefix?: string; pageSize?: number } = {},
): StoredEncryptionReader {
  return {
    async read(resource: string, objects: readonly StoredObjectName[]) {
      if (objects.length === 0) return [];
      const base = storagePrefix(parseGroupResource(resource), prefix);
      const keys = objects.map((o) =>
        o.namespace ? `${base}${o.namespace}/${o.name}` : `${base}${o.name}`,
      );
      const wanted = new Map<string, StoredEncryption | undefined>(keys.map((k) => [k, undefined]));
      const sorted = keys.map((k) => encoder.encode(k)).sort(compareBytes);
      let start = sorted[0] as Uint8Array;
      const end = after(sorted.at(-1) as Uint8Array);
      for (;;) {
        const page = await read({ start, end, limit: pageSize });
        for (const kv of page.kvs) {
          const key = decoder.decode(kv.key);
          if (!wanted.has(key)) continue;
          const { kind, provider, keyID, error } = classifyValue(kv.value);
          wanted.set(key, {
            kind,
            ...(provider !== undefined ? { provider } : {}),
            ...(keyID !== undefined ? { keyID } : {}),
            ...(error !== undefined ? { error } : {}),
          });
        }
        const last = page.kvs.at(-1);
        if (!page.more || !last) break;
        start = after(last.key);
      }
      return keys.map((k) => wanted.get(k));
    },
  };
}
