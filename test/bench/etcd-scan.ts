// How long one full scan of the etcd prefix takes with rekey's own reader (the proof's scan and the
// key inventory read exactly this): every value classified and dropped, one snapshot.
import { createEtcdInspector } from '../../shared/adapters/etcd/inspector.ts';
import type { TestSandbox } from '../support/sandbox-fixture.ts';

export interface EtcdScan {
  values: number;
  ms: number;
}

export async function timeEtcdScan(sb: TestSandbox): Promise<EtcdScan> {
  const inspector = createEtcdInspector({
    endpoints: [sb.env.etcd.url],
    prefix: sb.env.etcd.prefix,
  });
  const began = performance.now();
  let values = 0;
  try {
    for await (const _ of inspector.values()) values++;
  } finally {
    inspector.close();
  }
  return { values, ms: performance.now() - began };
}
