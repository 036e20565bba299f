// The reporter's heartbeat: one reading of the plugin every interval until the signal aborts.
// With a liveness Lease the report is written only when what it says changes (the ApiServerSource
// watches report ConfigMaps, and every update is a reconcile step) and the Lease is renewed on
// every tick instead; without one, every reading is written. rekey ignores reports not confirmed
// lately, so nothing short of the abort may end the loop. Logs name a key_id by a short form of
// its hash only (docs/architecture.md R12).
import { setTimeout as sleep } from 'node:timers/promises';
import type { KeyIdReport, ReportedConfigWrite } from '../../shared/adapters/k8s/key-id-reports.ts';
import { keyIdHash } from '../../shared/domain/key-id.ts';
import { reportChanged } from './report-changed.ts';
import { type ReportOnceOptions, takeReading } from './report-once.ts';

/** The few pino methods the loop uses; a pino Logger fits, and so does a test recorder. */
export interface ReporterLog {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Where the reporter says it is alive between report writes. */
export interface ReporterLiveness {
  /** The Lease's name, written into the report (`livenessLease`) so rekey knows to read it. */
  lease: string;
  /** Renews the Lease with this renewal time. */
  renew(atMs: number): Promise<void>;
}

export interface RunReporterOptions
  extends Omit<ReportOnceOptions, 'lastKeyId' | 'lastKeyIdFirstSeen'> {
  intervalMs?: number;
  /** Absent: the report is written on every tick (it is then its own liveness). */
  liveness?: ReporterLiveness;
  signal: AbortSignal;
  log: ReporterLog;
  /** Write mode: puts this node's configuration revision in place first; never rejects. */
  configWrite?: () => Promise<ReportedConfigWrite>;
}

/** `sha256:0123456789ab`, the short form of a key_id's hash that rekey's status lines show. */
function fingerprint(keyId: string | undefined): string | undefined {
  return keyId ? keyIdHash(keyId).slice(0, 19) : keyId;
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
  liveness,
  signal,
  log,
  write,
  configWrite,
  ...tick
}: RunReporterOptions): Promise<void> {
  let lastKeyId = '';
  let lastKeyIdFirstSeen: string | undefined;
  let previous: KeyIdReport | undefined;
  // what the stored report says, as far as this process knows (undefined: write it)
  let written: KeyIdReport | undefined;
  while (!signal.aborted) {
    // before the reading, so the report's configuration hash is the file just written
    const wrote = configWrite ? await configWrite() : undefined;
    const taken = await takeReading({
      ...tick,
      lastKeyId,
      ...(lastKeyIdFirstSeen ? { lastKeyIdFirstSeen } : {}),
    });
    const reading = wrote ? { ...taken, configWrite: wrote } : taken;
    if (!reading.error) lastKeyId = reading.keyId;
    if (reading.keyId === lastKeyId) lastKeyIdFirstSeen = reading.keyIdFirstSeen;
    logChange(log, previous, reading);
    logConfigChange(log, previous, reading);
    previous = reading;
    const report = liveness ? { ...reading, livenessLease: liveness.lease } : reading;
    let current = true;
    if (!liveness || !written || reportChanged(written, report)) {
      try {
        await write(report);
        written = report;
      } catch (err) {
        // The API server may be restarting or throttling us; the next tick writes it again.
        current = false;
        written = undefined;
        log.error(errorFields(err), 'writing the key-id report failed; retrying next tick');
      }
    }
    // renewed only while the stored report says what the plugin says now
    if (liveness && current) {
      try {
        await liveness.renew(Date.parse(reading.observedAt));
      } catch (err) {
        log.error(
          errorFields(err),
          'renewing the key-id report liveness failed; retrying next tick',
        );
      }
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
  const fields = { node: r.node, provider: r.provider, keyIdHash: fingerprint(r.keyId) };
  if (r.error) {
    const changed = previous?.error !== r.error;
    (changed ? log.warn : log.debug).call(log, { ...fields, error: r.error }, 'plugin unhealthy');
  } else if (!previous || previous.error || previous.keyId !== r.keyId) {
    log.info(
      { ...fields, previousKeyIdHash: fingerprint(previous?.keyId) },
      'plugin key_id reported',
    );
  } else {
    log.debug(fields, 'plugin key_id unchanged');
  }
}
