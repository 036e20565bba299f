// One reporter tick: ask the KMS plugin for its Status, read the apiserver's EncryptionConfiguration
// when given one, and make both this node's key-id report (`takeReading`; `reportOnce` also writes
// it). A plugin that is down or unhealthy, or a file that cannot be read, is itself news for rekey,
// so it becomes a report with `error` or `encryptionConfigError` set rather than an exception;
// only a failed write reaches the caller.
import type { KeyIdReport } from '../../shared/adapters/k8s/key-id-reports.ts';
import {
  type KmsPluginStatus,
  statusProblems,
} from '../../shared/adapters/kms-plugin/status-client.ts';
import type { Clock } from '../../shared/ports/clock.ts';
import { type ConfigFields, readEncryptionConfig } from './read-encryption-config.ts';

/** Just the part of the Status client a tick needs, so tests can pass a plain object. */
export interface StatusSource {
  status(): Promise<KmsPluginStatus>;
}

export interface ReportOnceOptions {
  plugin: StatusSource;
  /** Stores the report (in production: writeReport into rekey's namespace). */
  write: (report: KeyIdReport) => Promise<void>;
  node: string;
  /** The kms provider name in the EncryptionConfiguration this plugin serves. */
  provider: string;
  clock: Clock;
  /** The key_id of the last healthy Status, kept in error reports so rekey still sees it. */
  lastKeyId?: string;
  /** When `lastKeyId` was first seen: kept while the key_id is unchanged. */
  lastKeyIdFirstSeen?: string;
  /** The apiserver's --encryption-provider-config as mounted here; re-read on every tick. */
  encryptionConfigFile?: string;
}

// Reports are ConfigMap data read by humans and rekey; a plugin's error text is unbounded.
const MAX_ERROR_CHARS = 300;

function short(text: string): string {
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS - 1)}…` : text;
}

function describeError(err: unknown): string {
  return short(err instanceof Error ? `${err.name}: ${err.message}` : `error: ${String(err)}`);
}

/** Calls plugin Status once and returns the report it makes; never rejects. */
export async function takeReading({
  plugin,
  node,
  provider,
  clock,
  lastKeyId = '',
  lastKeyIdFirstSeen,
  encryptionConfigFile,
}: Omit<ReportOnceOptions, 'write'>): Promise<KeyIdReport> {
  // The time of the question, not of the answer: a slow plugin must not make a report look fresher.
  const observedAt = clock.now().toISOString();
  const base = { node, provider, observedAt };
  let report: KeyIdReport;
  try {
    const status = await plugin.status();
    const problems = statusProblems(status);
    report =
      problems.length === 0
        ? { ...base, keyId: status.keyId, healthz: status.healthz, version: status.version }
        : {
            ...base,
            // The apiserver ignores the key_id of an unhealthy Status, so rekey must too: keep
            // the last healthy one and show the raw answer only through healthz/version/error.
            keyId: lastKeyId,
            healthz: status.healthz,
            version: status.version,
            error: short(`unhealthy Status: ${problems.join('; ')}`),
          };
  } catch (err) {
    report = { ...base, keyId: lastKeyId, healthz: '', version: '', error: describeError(err) };
  }
  // rekey orders two new key_ids by when each was first seen, which no heartbeat can tell
  const firstSeen =
    report.keyId === lastKeyId && lastKeyIdFirstSeen ? lastKeyIdFirstSeen : observedAt;
  if (report.keyId) report = { ...report, keyIdFirstSeen: firstSeen };
  const config: ConfigFields = encryptionConfigFile
    ? await readEncryptionConfig(encryptionConfigFile, provider)
    : {};
  return { ...report, ...config };
}

/**
 * Calls plugin Status once and writes the resulting report, which it also returns.
 * Never rejects for plugin problems; rejects when `write` does.
 */
export async function reportOnce({ write, ...options }: ReportOnceOptions): Promise<KeyIdReport> {
  const report = await takeReading(options);
  await write(report);
  return report;
}
