// Scans etcd directly and reports, per object, which encryption and KMS keyID protect it: the
// proof rekey's verifier relies on, since the apiserver never shows it. Reads in bounded pages at
// one pinned revision; values are classified and dropped, never kept or logged.

import { Etcd3, type IOptions } from 'etcd3';
import {
  addToSummary,
  classifyValue,
  emptySummary,
  type InspectionSummary,
  inspectEntry,
  type ObjectReport,
} from '../../domain/encrypted-value.ts';
import type { ScannedValue } from '../../domain/proof.ts';

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
  /** Streams every value under the whole prefix, classified; a fresh snapshot per call. */
  values(): AsyncGenerator<ScannedValue, void, undefined>;
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

/** gRPC refused an answer larger than the client accepts (RESOURCE_EXHAUSTED, code 8). */
export function isAnswerTooLarge(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return code === 8 || /RESOURCE_EXHAUSTED|larger than max/i.test(err.message);
}

/** The etcd client's circuit breaker is open (it opens after failed calls; half-opens in 5 s). */
function isCircuitOpen(err: unknown): boolean {
  return err instanceof Error && /circuit breaker is open/i.test(err.message);
}

/** How long a page waits, at most, for the client's breaker after an answer that was too large. */
const BREAKER_WAIT_MS = 15_000;
const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The largest answer the scans accept: etcd stores values up to its --max-request-bytes (1.5 MiB
 * by default), so a page of 500 can exceed gRPC's default 4 MiB many times over; a page that still
 * does not fit is asked for again in halves (rangeUnder).
 */
export const SCAN_MAX_RECEIVE_BYTES = 64 * 1024 * 1024;

/**
 * The next page's limit after a page that fit at a reduced `limit`: as many entries as would fill
 * half an answer at the size of the largest entry (key and value) just read, never fewer than now
 * nor more than the page size. Large values cluster (one namespace's bundles, say): past them the
 * scan is back to full pages, not one small page at a time to the end of a million keys; still
 * among them, it stays where it fit.
 */
export function regrownLimit(
  limit: number,
  pageSize: number,
  largestEntryBytes: number,
  maxAnswerBytes: number,
): number {
  const fits = Math.floor(maxAnswerBytes / 2 / Math.max(1, largestEntryBytes));
  return Math.min(pageSize, Math.max(limit, fits));
}

/** Where a multi-range scan stands: the revision pinned by its first page, shared by its ranges. */
interface Snapshot {
  revision?: string;
}

/**
 * Every key-value under one key prefix, page by page. The first page pins the snapshot's revision so
 * every range of one scan is read at one point in time, as a LIST with continue tokens would be. If
 * etcd compacts that revision mid-scan, the scan goes on at the newest revision from where it
 * stopped: a verifier wants every key once, and later writes only use the current key anyway.
 */
async function* rangeUnder(
  read: RangeReader,
  scopeKey: string,
  pageSize: number,
  snapshot: Snapshot,
  {
    sleep = defaultSleep,
    maxAnswerBytes = SCAN_MAX_RECEIVE_BYTES,
  }: { sleep?: (ms: number) => Promise<void>; maxAnswerBytes?: number } = {},
): AsyncGenerator<{ key: Uint8Array; value: Uint8Array }, void, undefined> {
  const scope = encoder.encode(scopeKey);
  const end = prefixRangeEnd(scope);
  let start: Uint8Array = scope;
  let limit = pageSize;
  // after an answer too large, the client's retries open its breaker for a few seconds
  let breakerWaitedMs = 0;
  for (;;) {
    let page: RangePage;
    try {
      const revision = snapshot.revision;
      page = await read({ start, end, limit, ...(revision ? { revision } : {}) });
    } catch (err) {
      if (isAnswerTooLarge(err) && limit > 1) {
        // large values side by side: the same page again, in smaller pieces, for the rest
        limit = Math.max(1, Math.floor(limit / 2));
        breakerWaitedMs = 0;
        continue;
      }
      if (isCircuitOpen(err) && limit < pageSize && breakerWaitedMs < BREAKER_WAIT_MS) {
        await sleep(1000);
        breakerWaitedMs += 1000;
        continue;
      }
      if (snapshot.revision === undefined || !isCompacted(err)) {
        throw new EtcdInspectionError(`etcd range over ${scopeKey} failed`, { cause: err });
      }
      delete snapshot.revision;
      continue;
    }
    snapshot.revision ??= page.revision;
    if (limit < pageSize) {
      const largest = page.kvs.reduce((m, kv) => Math.max(m, kv.key.length + kv.value.length), 0);
      limit = regrownLimit(limit, pageSize, largest, maxAnswerBytes);
    }
    yield* page.kvs;
    const last = page.kvs.at(-1);
    if (!page.more || !last) return;
    // The smallest key after `last`: keys are byte strings, so append one zero byte.
    start = new Uint8Array(last.key.length + 1);
    start.set(last.key);
  }
}

function checkPageSize(pageSize: number): void {
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    throw new RangeError(`pageSize must be a positive integer, got ${pageSize}`);
  }
}

/**
 * Pages through `<prefix>/<resource>/[<namespace>/]` for each resource and yields a report per
 * key, all resources at one pinned revision.
 */
export async function* scanReports(
  read: RangeReader,
  { prefix = '/registry', resources = ['secrets'], pageSize = 500, namespace }: ScanOptions = {},
): AsyncGenerator<ObjectReport, void, undefined> {
  checkPageSize(pageSize);
  const base = prefix.replace(/\/+$/, '');
  const snapshot: Snapshot = {};
  for (const resource of resources) {
    const scope = `${base}/${resource}/${namespace ? `${namespace}/` : ''}`;
    for await (const kv of rangeUnder(read, scope, pageSize, snapshot)) {
      yield inspectEntry(decoder.decode(kv.key), kv.value, { prefix: base, resource });
    }
  }
}

/**
 * Every value under the whole etcd prefix, classified (never kept): what the proof and the key
 * inventory read. One snapshot, bounded pages.
 */
export async function* scanPrefix(
  read: RangeReader,
  {
    prefix = '/registry',
    pageSize = 500,
    sleep,
    maxAnswerBytes,
  }: {
    prefix?: string;
    pageSize?: number;
    sleep?: (ms: number) => Promise<void>;
    /** The client's largest answer (default {@link SCAN_MAX_RECEIVE_BYTES}). */
    maxAnswerBytes?: number;
  } = {},
): AsyncGenerator<ScannedValue, void, undefined> {
  checkPageSize(pageSize);
  const scope = `${prefix.replace(/\/+$/, '')}/`;
  const options = { ...(sleep ? { sleep } : {}), ...(maxAnswerBytes ? { maxAnswerBytes } : {}) };
  for await (const kv of rangeUnder(read, scope, pageSize, {}, options)) {
    yield { key: decoder.decode(kv.key), ...classifyValue(kv.value) };
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
  const { endpoints, tls, callTimeoutMs, ...scan } = options;
  const client = connectEtcd({
    endpoints,
    ...(tls ? { tls } : {}),
    ...(callTimeoutMs ? { callTimeoutMs } : {}),
    maxReceiveBytes: SCAN_MAX_RECEIVE_BYTES,
  });
  const read = etcd3RangeReader(client);
  return {
    reports: () => scanReports(read, scan),
    values: () =>
      scanPrefix(read, {
        ...(scan.prefix ? { prefix: scan.prefix } : {}),
        ...(scan.pageSize ? { pageSize: scan.pageSize } : {}),
      }),
    summarise: () => summariseStream(scanReports(read, scan)),
    close: () => client.close(),
  };
}

/**
 * An etcd client for the endpoints (TLS client auth when given), each call under a deadline.
 * `maxReceiveBytes`: the largest answer it accepts (gRPC's default is 4 MiB; a larger answer fails
 * the call, and the client's circuit breaker then refuses the next ones for a while).
 */
export function connectEtcd({
  endpoints,
  tls,
  callTimeoutMs = 30_000,
  maxReceiveBytes,
}: Pick<EtcdInspectorOptions, 'endpoints' | 'tls' | 'callTimeoutMs'> & {
  maxReceiveBytes?: number;
}): Etcd3 {
  if (endpoints.length === 0) throw new RangeError('at least one etcd endpoint is required');
  const clientOptions: IOptions = {
    hosts: endpoints,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
    ...(maxReceiveBytes
      ? { grpcOptions: { 'grpc.max_receive_message_length': maxReceiveBytes } }
      : {}),
  };
  if (tls) {
    clientOptions.credentials = {
      rootCertificate: tls.ca,
      ...(tls.key ? { privateKey: tls.key } : {}),
      ...(tls.cert ? { certChain: tls.cert } : {}),
    };
  }
  return new Etcd3(clientOptions);
}
