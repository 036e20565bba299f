// Key-id reports: what the reporter next to each KMS plugin saw (node, provider, key_id, health),
// kept as one ConfigMap per (node, provider) in rekey's namespace, which rekey reads and watches.
import type { V1ConfigMap } from '@kubernetes/client-node';
import { ANNOTATION_PREFIX } from '../../domain/checkpoint.ts';
import { providerSegment } from '../../domain/revision.ts';
import { providerLabel } from './revision-codec.ts';
import type { CoreApi } from './typed-api.ts';

export const LABEL_REPORT = `${ANNOTATION_PREFIX}key-id-report`;

export interface KeyIdReport {
  node: string;
  provider: string;
  keyId: string;
  healthz: string;
  version: string;
  /** ISO 8601 time of the plugin Status call. */
  observedAt: string;
  /** Set when the plugin could not be asked; keyId is then the last one seen, if any. */
  error?: string;
}

export function reportName(node: string, provider: string): string {
  return `key-id-report-${providerSegment(`${node}-${provider}`)}`
    .slice(0, 253)
    .replace(/[-.]+$/, '');
}

function toConfigMap(r: KeyIdReport, namespace: string): V1ConfigMap {
  const data: Record<string, string> = {
    node: r.node,
    provider: r.provider,
    keyId: r.keyId,
    healthz: r.healthz,
    version: r.version,
    observedAt: r.observedAt,
  };
  if (r.error) data.error = r.error;
  return {
    metadata: {
      name: reportName(r.node, r.provider),
      namespace,
      labels: {
        'app.kubernetes.io/managed-by': 'rekey',
        [LABEL_REPORT]: 'true',
        'rekey.dev/provider': providerLabel(r.provider),
      },
    },
    data,
  };
}

export function fromConfigMap(cm: V1ConfigMap): KeyIdReport | undefined {
  const d = cm.data ?? {};
  if (!d.node || !d.provider || d.keyId === undefined || !d.observedAt) return undefined;
  return {
    node: d.node,
    provider: d.provider,
    keyId: d.keyId,
    healthz: d.healthz ?? '',
    version: d.version ?? '',
    observedAt: d.observedAt,
    ...(d.error ? { error: d.error } : {}),
  };
}

/** Creates or replaces the report of (node, provider). */
export async function writeReport(
  api: Pick<CoreApi, 'replaceNamespacedConfigMap' | 'createNamespacedConfigMap'>,
  namespace: string,
  r: KeyIdReport,
): Promise<void> {
  const body = toConfigMap(r, namespace);
  const name = body.metadata?.name ?? '';
  try {
    await api.replaceNamespacedConfigMap({ name, namespace, body });
  } catch (err) {
    if ((err as { code?: number }).code !== 404) throw err;
    await api.createNamespacedConfigMap({ namespace, body });
  }
}

export async function readReports(
  api: Pick<CoreApi, 'listNamespacedConfigMap'>,
  namespace: string,
  provider: string,
): Promise<KeyIdReport[]> {
  const list = await api.listNamespacedConfigMap({
    namespace,
    labelSelector: `${LABEL_REPORT}=true`,
  });
  return list.items.map(fromConfigMap).filter((r): r is KeyIdReport => r?.provider === provider);
}
