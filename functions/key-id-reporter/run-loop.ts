// The reporter's heartbeat: one report every interval until the signal aborts. Reports are also
// liveness (rekey ignores stale ones), so nothing short of the abort may end the loop.
import { setTimeout as sleep } from 'node:timers/promises';
import type { KeyIdReport } from '../../shared/adapters/k8s/key-id-reports.ts';
import { type ReportOnceOptions, reportOnce } from './report-once.ts';

/** The few pino methods the loop uses; a pino Logger fits, and so does a test recorder. */
export interface ReporterLog {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface RunReporterOptions
  extends Omit<ReportOnceOptions, 'lastKeyId' | 'lastKeyIdFirstSeen'> {
  intervalMs?: number;
  signal: AbortSignal;
  log: ReporterLog;
}

function errorFields(err: unknown): { err: string; code?: unknown } {
  // Message and status code only: a client-node ApiException also carries headers and bodies.
  if (!(err instanceof Error)) return { err: String(err) };
  const code = (err as { code?: unknown }).code;
  return code === undefined ? { err: err.message } : { err: err.message, code };
}

/** Resolves once `signal` aborts; never rejects because of the plugin or the API server. */
export async function runReporter({
  intervalMs = 15_000,
  signal,
  log,
  ...tick
}: RunReporterOptions): Promise<void> {
  let lastKeyId = '';
  let lastKeyIdFirstSeen: string | undefined;
  let previous: KeyIdReport | undefined;
  while (!signal.aborted) {
    try {
      const report = await reportOnce({
        ...tick,
        lastKeyId,
        ...(lastKeyIdFirstSeen ? { lastKeyIdFirstSeen } : {}),
      });
      if (!report.error) lastKeyId = report.keyId;
      if (report.keyId === lastKeyId) lastKeyIdFirstSeen = report.keyIdFirstSeen;
      logChange(log, previous, report);
      logConfigChange(log, previous, report);
      previous = report;
    } catch (err) {
      // The API server may be restarting or throttling us; the next tick writes a fresh report.
      log.error(errorFields(err), 'writing the key-id report failed; retrying next tick');
    }
    try {
      await sleep(intervalMs, undefined, { signal });
    } catch {
      // AbortError: the loop condition ends it.
    }
  }
}

// A new configuration hash is what rekey's staged provider changes wait for, so it is worth a line.
function logConfigChange(
  log: ReporterLog,
  previous: KeyIdReport | undefined,
  r: KeyIdReport,
): void {
  const fields = { node: r.node, provider: r.provider };
  if (r.encryptionConfigError) {
    if (previous?.encryptionConfigError !== r.encryptionConfigError) {
      log.warn(
        { ...fields, error: r.encryptionConfigError },
        'encryption configuration unreadable',
      );
    }
  } else if (r.encryptionConfig && r.encryptionConfig.hash !== previous?.encryptionConfig?.hash) {
    const { hash, path, resources } = r.encryptionConfig;
    log.info({ ...fields, hash, path, resources }, 'encryption configuration read');
  }
}

// Log transitions at info/warn and steady state at debug, so a long outage is not one line per tick.
function logChange(log: ReporterLog, previous: KeyIdReport | undefined, r: KeyIdReport): void {
  const fields = { node: r.node, provider: r.provider, keyId: r.keyId };
  if (r.error) {
    const changed = previous?.error !== r.error;
    (changed ? log.warn : log.debug).call(log, { ...fields, error: r.error }, 'plugin unhealthy');
  } else if (!previous || previous.error || previous.keyId !== r.keyId) {
    log.info({ ...fields, previousKeyId: previous?.keyId }, 'plugin key_id reported');
  } else {
    log.debug(fields, 'plugin key_id unchanged');
  }
}
