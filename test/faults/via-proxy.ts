// The reconcile function's kubeconfig (its ServiceAccount) with every cluster's server pointed at
// a TCP proxy, for the faults that sit on the path between rekey and the apiserver (latency, a cut
// Lease's page). TLS passes through the proxy, so rekey still verifies the apiserver's certificate.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Rotation } from './rotation.ts';

/** Writes the kubeconfig into the sandbox folder and returns its path. */
export function kubeconfigVia(r: Rotation, proxyUrl: string, name = 'proxied'): string {
  const cfg = JSON.parse(r.tier.reconcileKubeconfig.json) as {
    clusters: { cluster: Record<string, unknown> }[];
  };
  for (const c of cfg.clusters) c.cluster.server = proxyUrl;
  const file = join(r.sb.dir, `kubeconfig-reconcile-${name}`);
  writeFileSync(file, JSON.stringify(cfg), { mode: 0o600 });
  return file;
}
