// Key-id reports: what the reporter next to each KMS plugin saw (node, provider, key_id, health,
// and the apiserver's EncryptionConfiguration as far as it concerns that provider), kept as one
// ConfigMap per (node, provider) in rekey's namespace, which rekey reads and watches.
//
// The ConfigMap data is versioned by `format`: absent = 1 (the first reporters: no configuration),
// '2' = adds `encryptionConfig` (JSON) or `encryptionConfigError`. Format 2 grows only by optional
// fields that a reader which does not know them ignores: `keyIdFirstSeen` (when this reporter first
// saw the key_id it reports, kept across ticks while the key_id is unchanged), because a heartbeat
// cannot tell which of two key_ids came first; `livenessLease` (the name of the Lease its reporter
// renews every tick, shared/adapters/k8s/report-liveness.ts), because a reporter that names one
// writes the ConfigMap only when what it says changes, so `observedAt` is then when it last
// changed and the Lease says the reporter is still there. Readers take every format and a report
// without the newer fields, so rekey can be upgraded before the reporters. (A rekey older than
// `livenessLease` reads the reports of a newer reporter as stale once they stop changing: upgrade
// rekey first.) `configWrite` (JSON) is set by a node agent in write mode: the configuration
// revision it last wrote or tried to write, the hash of the file it wrote, and the KMS providers
// it has a plugin endpoint for on its node.
import type { V1ConfigMap } from '@kubernetes/client-node';
import { z } from 'zod';
import { ANNOTATION_PREFIX } from '../../domain/checkpoint.ts';
import type { EncryptionConfigEntry } from '../../domain/encryption-config.ts';
import { providerSegment } from '../../domain/revision.ts';
import { providerLabel } from './revision-codec.ts';
import type { CoreApi } from './typed-api.ts';

export const LABEL_REPORT = `${ANNOTATION_PREFIX}key-id-report`;
export const REPORT_FORMAT = '2';

/** The reporter's reading of the EncryptionConfiguration file, for its provider only. */
export interface ReportedConfigFile {
  /** `sha256:<hex>` of the file's bytes, as kube-apiserver hashes it. */
  hash: string;
  /** The file the reporter read (the apiserver's --encryption-provider-config, as mounted). */
  path: string;
  /** The entries that list the provider, patterns as written; write = the provider is first. */
  resources: { resources: string[]; write: boolean }[];
  /**
   * Every entry of the file, patterns and provider types/names only (never key material): with it
   * rekey applies the apiserver's precedence (an exact entry for another provider wins over a
   * wildcard naming this one). Absent in reports of earlier format-2 reporters.
   */
  entries?: EncryptionConfigEntry[];
}

const reportedConfigSchema = z.object({
  hash: z.string().min(1),
  path: z.string(),
  resources: z.array(z.object({ resources: z.array(z.string()), write: z.boolean() })),
  entries: z
    .array(
      z.object({
        resources: z.array(z.string()),
        providers: z.array(
          z.object({
            type: z.enum(['kms', 'aescbc', 'aesgcm', 'secretbox', 'identity']),
            name: z.string().exactOptional(),
            apiVersion: z.string().exactOptional(),
          }),
        ),
      }),
    )
    .exactOptional(),
});

/** What a node agent in write mode last did with the configuration revisions. */
export interface ReportedConfigWrite {
  revision?: number | undefined;
  hash?: string | undefined;
  error?: string | undefined;
  kmsEndpoints: Record<string, string>;
}

const configWriteSchema = z.object({
  revision: z.number().int().positive().optional(),
  hash: z.string().optional(),
  error: z.string().optional(),
  kmsEndpoints: z.record(z.string(), z.string()).default({}),
});

export interface KeyIdReport {
  node: string;
  provider: string;
  keyId: string;
  healthz: string;
  version: string;
  /** ISO 8601 time of the plugin Status call. */
  observedAt: string;
  /**
   * ISO 8601 time this reporter first saw `keyId`, having reported it on every tick since (error
   * reports keep it too). Absent in reports of earlier reporters and while no key_id was seen.
   */
  keyIdFirstSeen?: string;
  /**
   * The Lease (same namespace) its reporter renews every tick while this report stands: the
   * report was last confirmed at the later of `observedAt` and the Lease's renewTime. Absent in
   * reports of earlier reporters, which rewrote the report on every tick instead.
   */
  livenessLease?: string;
  /** Set when the plugin could not be asked; keyId is then the last one seen, if any. */
  error?: string;
  /** Absent when the reporter has no ENCRYPTION_CONFIG_FILE, or predates format 2. */
  encryptionConfig?: ReportedConfigFile;
  /** Why the configured file could not be read or parsed (the report is written anyway). */
  encryptionConfigError?: string;
  /** Absent unless the reporter runs in write mode (REKEY_CONFIG_WRITE). */
  configWrite?: ReportedConfigWrite;
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
    format: REPORT_FORMAT,
  };
  if (r.error) data.error = r.error;
  if (r.keyIdFirstSeen) data.keyIdFirstSeen = r.keyIdFirstSeen;
  if (r.livenessLease) data.livenessLease = r.livenessLease;
  if (r.encryptionConfig) data.encryptionConfig = JSON.stringify(r.encryptionConfig);
  if (r.encryptionConfigError) data.encryptionConfigError = r.encryptionConfigError;
  if (r.configWrite) data.configWrite = JSON.stringify(r.configWrite);
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

// A report whose configuration part cannot be read still reports the key_id; the damage is said.
function configFields(
  d: Record<string, string>,
): Pick<KeyIdReport, 'encryptionConfig' | 'encryptionConfigError'> {
  if (d.format === undefined) return {};
  const fields: Pick<KeyIdReport, 'encryptionConfig' | 'encryptionConfigError'> = {};
  if (d.encryptionConfigError) fields.encryptionConfigError = d.encryptionConfigError;
  if (d.encryptionConfig !== undefined) {
    let parsed: ReturnType<typeof reportedConfigSchema.safeParse> | undefined;
    try {
      parsed = reportedConfigSchema.safeParse(JSON.parse(d.encryptionConfig));
    } catch {
      parsed = undefined;
    }
    if (parsed?.success) fields.encryptionConfig = parsed.data;
    else fields.encryptionConfigError ??= 'the report carries an unreadable encryptionConfig';
  }
  return fields;
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
    // a time that does not parse is as good as none: the heartbeat stands in for it
    ...(d.keyIdFirstSeen && !Number.isNaN(Date.parse(d.keyIdFirstSeen))
      ? { keyIdFirstSeen: d.keyIdFirstSeen }
      : {}),
    ...(d.format !== undefined && d.livenessLease ? { livenessLease: d.livenessLease } : {}),
    ...configFields(d),
    ...configWriteField(d.configWrite),
  };
}

// a write-mode part that cannot be read is left out: convergence then waits on that node
function configWriteField(v: string | undefined): Pick<KeyIdReport, 'configWrite'> {
  if (v === undefined) return {};
  try {
    const parsed = configWriteSchema.safeParse(JSON.parse(v));
    if (!parsed.success) return {};
    const { revision, hash, error, kmsEndpoints } = parsed.data;
    return {
      configWrite: {
        kmsEndpoints,
        ...(revision !== undefined ? { revision } : {}),
        ...(hash !== undefined ? { hash } : {}),
        ...(error !== undefined ? { error } : {}),
      },
    };
  } catch {
    return {};
  }
}

/** Every report in `namespace`, whatever its provider. */
export async function readAllReports(
  api: Pick<CoreApi, 'listNamespacedConfigMap'>,
  namespace: string,
): Promise<KeyIdReport[]> {
  const list = await api.listNamespacedConfigMap({
    namespace,
    labelSelector: `${LABEL_REPORT}=true`,
  });
  return list.items.map(fromConfigMap).filter((r): r is KeyIdReport => r !== undefined);
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
