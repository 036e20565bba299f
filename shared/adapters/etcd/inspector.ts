// Scans etcd directly and reports, per object, which encryption and KMS keyID protect it: the
// proof rekey's verifier relies on, since the apiserver never shows it. Reads in bounded pages at
// one pinned revision; values are classified and dropped, never kept or logged.

import { Etcd3, type IOptions } from 'etcd3';
import {
  addToSummary,
  emptySummary,
  type InspectionSummary,
  inspectEntry,
  type ObjectReport,
} from '../../domain/encrypted-value.ts';

/** One page from etcd's Range: the entries and whether more follow. */
export interface RangePage {
  kvs: ReadonlyArray<{ key: Uint8Array; value: Uint8Array }>;
  more: boolean;
  /** The store revision the page was read at (etcd's response header). */
  revision: string;
}

/** The one etcd operation the scan needs: Range over [start, end) with a limit, at a revision. */
export type RangeReader = (request: {
  start: Uint8Array;
  end: Uint8Array;
  limit: number;
  /** Absent: read at the newest revision. */
  revision?: string;
}) => Promise<RangePage>;

/** What to scan. `namespace` narrows namespaced resources to one namespace. */
export interface ScanOptions {
  prefix?: string;
  resources?: string[];
  pageSize?: number;
  namespace?: string;
}

/** Options for {@link createEtcdInspector}. */
export interface EtcdInspectorOptions extends ScanOptions {
  /** e.g. `https://10.0.0.1:2379`; all http or all https. */
  endpoints: string[];
  /** PEM bytes for TLS client auth, as kube-apiserver's etcd flags (--etcd-cafile etc.) give. */
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer };
  /** Deadline for each Range call. */
  callTimeoutMs?: number;
}

/** Reads etcd and reports on objects; see {@link createEtcdInspector}. */
export interface EtcdInspector {
  /** Streams one report per object; each call is a fresh scan at a newly pinned revision. */
  reports(): AsyncGenerator<ObjectReport, void, undefined>;
  /** Runs a scan and returns only the counts. */
  summarise(): Promise<InspectionSummary>;
  /** Releases the etcd connection. */
  close(): void;
}

/** A scan that could not complete; `cause` is the etcd client's error. */
export class EtcdInspectionError extends Error {
  override name = 'EtcdInspectionError';
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The exclusive end of the range of keys starting with `prefix` (etcd's "prefix + 1"). */
export function prefixRangeEnd(prefix: Uint8Array): Uint8Array {
  const end = Uint8Array.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] ?? 0) < 0xff) {
      end[i] = (end[i] ?? 0) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Uint8Array.of(0); // all bytes 0xff: to the end of the keyspace
}

function isCompacted(err: unknown): boolean {
  return err instanceof Error && /compacted/i.test(err.message);
}

/**
 * Pages through `<prefix>/<resource>/[<namespace>/]` for each resource and yields a report per
 * key. The first page pins the revision so every resource is seen in one snapshot, as a LIST with
 * continue tokens would be. If etcd compacts that revision mid-scan, the scan goes on at the newest
 * revision from where it stopped: a verifier wants every key once, and later writes only use the
 * current key anyway.
 */
export async function* scanReports(
  read: RangeReader,
  { prefix = '/registry', resources = ['secrets'], pageSize = 500, namespace }: ScanOptions = {},
): AsyncGenerator<ObjectReport, void, undefined> {
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    throw new RangeError(`pageSize must be a positive integer, got ${pageSize}`);
  }
  const base = prefix.replace(/\/+$/, '');
  let revision: string | undefined;
  for (const resource of resources) {
    const scope = encoder.encode(`${base}/${resource}/${namespace ? `${namespace}/` : ''}`);
    const end = prefixRangeEnd(scope);
    let start: Uint8Array = scope;
    for (;;) {
      let page: RangePage;
      try {
        page = await read({ start, end, limit: pageSize, ...(revision ? { revision } : {}) });
      } catch (err) {
        if (revision === undefined || !isCompacted(err)) {
          throw new EtcdInspectionError(`etcd range over ${decoder.decode(scope)} failed`, {
            cause: err,
          });
        }
        revision = undefined;
        continue;
      }
      revision ??= page.revision;
      for (const kv of page.kvs) {
        yield inspectEntry(decoder.decode(kv.key), kv.value, { prefix: base, resource });
      }
      const last = page.kvs.at(-1);
      if (!page.more || !last) break;
      // The smallest key after `last`: keys are byte strings, so append one zero byte.
      start = new Uint8Array(last.key.length + 1);
      start.set(last.key);
    }
  }
}

/** Folds any stream of reports into a summary without holding the reports. */
export async function summariseStream(
  reports: AsyncIterable<ObjectReport>,
): Promise<InspectionSummary> {
  let summary = emptySummary();
  for await (const r of reports) summary = addToSummary(summary, r);
  return summary;
}

/** Adapts an etcd3 client to {@link RangeReader}. */
export function etcd3RangeReader(client: Etcd3): RangeReader {
  return async ({ start, end, limit, revision }) => {
    let builder = client
      .getAll()
      .inRange({ start: Buffer.from(start), end: Buffer.from(end) })
      .limit(limit);
    if (revision) builder = builder.revision(revision);
    const res = await builder.exec();
    return { kvs: res.kvs, more: res.more, revision: res.header.revision };
  };
}

/**
 * Connects to etcd and returns an inspector over the given resources.
 * @example
 * const inspector = createEtcdInspector({ endpoints: ['http://127.0.0.1:2379'] });
 * try {
 *   for await (const r of inspector.reports()) console.log(r.key, r.kind, r.keyID);
 * } finally {
 *   inspector.close();
 * }
 */
export function createEtcdInspector(options: EtcdInspectorOptions): EtcdInspector {
  const { endpoints, tls, callTimeoutMs = 30_000, ...scan } = options;
  if (endpoints.length === 0) throw new RangeError('at least one etcd endpoint is required');
  const clientOptions: IOptions = {
    hosts: endpoints,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
  };
  if (tls) {
    clientOptions.credentials = {
      rootCertificate: tls.ca,
      ...(tls.key ? { privateKey: tls.key } : {}),
      ...(tls.cert ? { certChain: tls.cert } : {}),
    };
  }
  const client = new Etcd3(clientOptions);
  const read = etcd3RangeReader(client);
  return {
    reports: () => scanReports(read, scan),
    summarise: () => summariseStream(scanReports(read, scan)),
    close: () => client.close(),
  };
}
