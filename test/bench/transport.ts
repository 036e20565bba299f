// What the transport to the apiserver costs per request, on each side: the same small GET (a
// namespace as PartialObjectMetadata, as the admin) sent many times at a fixed concurrency over
// rekey's own REST client (HTTP/1.1, a keep-alive pool of sockets) and over one HTTP/2 session
// (node:http2), with the CPU seconds of this process and of the apiservers read from /proc around
// each. It tells whether moving rekey's client to HTTP/2 would free CPU on this machine, where the
// apiserver and rekey share two cores.
import http2 from 'node:http2';
import type { RequestOptions } from 'node:https';
import pLimit from 'p-limit';
import { createRestClient } from '../../shared/adapters/k8s/rest-client.ts';
import { connection } from '../support/kube.ts';
import type { SandboxEnv } from '../support/sandbox/env-file.ts';
import { cpuSecondsOf, formatCpuPids, parseCpuPids, sampleCpu } from './proc-cpu.ts';

const PATH = '/api/v1/namespaces/default';
const ACCEPT = 'application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io';

export interface TransportCost {
  transport: 'https' | 'http2';
  requests: number;
  failed: number;
  perSecond: number;
  /** CPU milliseconds per request: this process (the client) and the apiservers. */
  clientMs: number;
  apiserverMs: number;
}

export async function transportCosts(
  env: SandboxEnv,
  { requests = 10_000, concurrency = 32 } = {},
): Promise<TransportCost[]> {
  const pids = parseCpuPids(formatCpuPids(env.processes));
  if (!pids) throw new Error('the sandbox names no apiserver process');
  const conn = connection(env);
  const opts: RequestOptions = {};
  await conn.authorize(opts);
  const rest = createRestClient(conn, { maxSockets: concurrency });
  const session = http2.connect(conn.server, {
    ...(opts.ca ? { ca: opts.ca } : {}),
    ...(opts.cert ? { cert: opts.cert } : {}),
    ...(opts.key ? { key: opts.key } : {}),
  });
  const viaHttps = async () => {
    const r = await rest.request({ path: PATH, accept: ACCEPT });
    JSON.parse(r.body);
    return r.status;
  };
  const viaHttp2 = () =>
    new Promise<number>((resolve) => {
      const req = session.request({ ':path': PATH, accept: ACCEPT, ...(opts.headers ?? {}) });
      let status = 0;
      const chunks: Buffer[] = [];
      req.on('response', (h) => {
        status = Number(h[':status']);
      });
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        JSON.parse(Buffer.concat(chunks).toString('utf8'));
        resolve(status);
      });
      req.on('error', () => resolve(0));
      req.end();
    });
  const measure = async (transport: TransportCost['transport'], one: () => Promise<number>) => {
    const limit = pLimit(concurrency);
    const before = sampleCpu(pids);
    const self = cpuSecondsOf('self');
    const started = performance.now();
    const statuses = await Promise.all(Array.from({ length: requests }, () => limit(one)));
    const seconds = (performance.now() - started) / 1000;
    const after = sampleCpu(pids);
    return {
      transport,
      requests,
      failed: statuses.filter((s) => s !== 200).length,
      perSecond: requests / seconds,
      clientMs: ((cpuSecondsOf('self') - self) * 1000) / requests,
      apiserverMs: ((after.apiserver - before.apiserver) * 1000) / requests,
    };
  };
  try {
    // a first pass of each warms up the JIT and the connections; the second is measured
    await measure('https', viaHttps);
    await measure('http2', viaHttp2);
    return [await measure('https', viaHttps), await measure('http2', viaHttp2)];
  } finally {
    rest.close();
    session.close();
  }
}
