// One fault test's rotation: a private sandbox, a stale set of a few hundred secrets, writers that
// own some of them, rekey on the real Knative tier (test/faults/knative-tier.ts), and the
// end-of-run proof (etcd, loss).
import type { CoreV1Api } from '@kubernetes/client-node';
import { keyIdHash } from '../../shared/domain/key-id.ts';
import type { Revision } from '../../shared/domain/revision.ts';
import { etcdSummary, keyIdsInEtcd } from '../support/etcd-keys.ts';
import { coordinationApi, coreApi } from '../support/kube.ts';
import { type RekeyUnderTest, rekeyFor } from '../support/rekey-fixture.ts';
import { rotate, waitForKeyId } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { type Seeded, seedMany } from '../support/seed.ts';
import { untilSettled, waitForObservation } from '../support/settle.ts';
import { type FaultKnativeTier, upFaultTier } from './knative-tier.ts';
import { type ProgressLog, watchProgress } from './progress.ts';
import { appendRow, type FaultRow } from './report.ts';
import { type FaultServedRekey, serveReconcile } from './served-rekey.ts';
import { untilNoStepWorks } from './step-lease.ts';

export interface Proof {
  completed: boolean;
  verified: boolean;
  /** Seeded secrets etcd shows under another key_id than the new one (or missing from etcd). */
  notUnderNewKey: number;
  /** Secrets anywhere in etcd (revisions included) under anything but the new key. */
  othersInEtcd: number;
  /** key_ids etcd shows for all secrets, with counts (names only, never values). */
  etcdKeyIds: string;
  lost: number;
  lostNames: string[];
  migrationSeconds: number;
  final?: Revision;
}

/** What a secret written by the load may hold now (undefined: never written, its seed). */
export type Acceptable = (key: string) => Set<string> | undefined;

export interface Rotation {
  sb: TestSandbox;
  api: CoreV1Api;
  seeded: Seeded[];
  k2: string;
  /** rekey's store, read in-process, to watch the revision (rekey itself runs in `served`). */
  monitor: RekeyUnderTest;
  /** The Broker, its Triggers and sources, the other functions; reconcile's gate. */
  tier: FaultKnativeTier;
  served?: FaultServedRekey;
  progress?: ProgressLog;
  /**
   * Starts the reconcile function behind the gate and opens it (the migration begins at once,
   * carried by the ticks, step requests and continuations the tier delivers), and the progress
   * watch. `settings` are reconcile's.
   */
  serve(settings?: Record<string, string>): Promise<FaultServedRekey>;
  /**
   * Holds rekey's gate, then lets one step through at a time until `fraction` of the seeded
   * secrets are listed: the migration is then mid-way and stays there, whatever rekey's speed,
   * until `resume()` (or `finish()`); no step holds the provider's Lease (unexpired) when it
   * returns. Fails if one step took it to the end.
   */
  midMigration(fraction: number, limitMs?: number): Promise<{ listed: number; total: number }>;
  /** Lets every tick and continuation through again. */
  resume(): void;
  /**
   * Waits for Completed (up to `limitMs`), stops the load (which says what each written secret
   * may hold), then proves from etcd and counts lost secrets.
   */
  finish(
    limitMs: number,
    stopLoad: () => Promise<Acceptable>,
    /** The key every secret must end under (default the new key, K2; a rollback names K1). */
    opts?: { keyId?: string },
  ): Promise<Proof>;
  /** Watches the revision of `keyId` from now on (a rollback makes a revision of its own). */
  watch(keyId: string): Promise<ProgressLog>;
  record(row: FaultRow): void;
  /** Stops a load at close too, so a test that fails half-way leaves nothing running. */
  track(stop: () => Promise<unknown>): void;
  close(): Promise<void>;
}

/** Up to the moment the new key is adopted and observed: the set is stale, nothing rewritten yet. */
export async function prepareRotation({
  prefix,
  namespaces = 3,
  perNamespace = 100,
  apiservers = 1,
  kmsEvent,
}: {
  prefix: string;
  namespaces?: number;
  perNamespace?: number;
  /** Two for the faults of an HA control plane (one apiserver on another key). */
  apiservers?: number;
  /** kms-event's own settings, on top of the overlay's (upKnative's `settings`). */
  kmsEvent?: Record<string, string>;
}): Promise<Rotation> {
  const sb = await startSandbox({ apiservers });
  const api = coreApi(sb.env);
  let monitor: RekeyUnderTest | undefined;
  // the Knative tier comes up while the secrets are seeded (it needs none of them); its gate holds
  // everything the tier delivers until the test serves reconcile
  const tierUp = upFaultTier(sb.env, kmsEvent ? { kmsEvent } : {});
  tierUp.catch(() => {}); // awaited below
  let tier: FaultKnativeTier | undefined;
  try {
    const seeded = await seedMany(api, { namespaces, perNamespace, prefix });
    // the baseline revision (K1) is recorded in-process and fast: the faults are about K2
    monitor = rekeyFor(sb.env, { REKEY_PAGE_SIZE: '500', REKEY_CONCURRENCY: '16' });
    await untilSettled(monitor, 120_000);
    tier = await tierUp;
    const k2 = await rotate({ dir: sb.dir });
    await waitForKeyId(k2, { dir: sb.dir });
    await waitForObservation(monitor, k2);
    return rotation(sb, api, seeded, k2, monitor, tier, { namespaces, prefix });
  } catch (err) {
    monitor?.close();
    await (tier ?? (await tierUp.catch(() => undefined)))?.close();
    await sb.stop();
    throw err;
  }
}

function rotation(
  sb: TestSandbox,
  api: CoreV1Api,
  seeded: Seeded[],
  k2: string,
  monitor: RekeyUnderTest,
  tier: FaultKnativeTier,
  { namespaces, prefix }: { namespaces: number; prefix: string },
): Rotation {
  let servedAt = 0;
  const loads: (() => Promise<unknown>)[] = [];
  const r: Rotation = {
    sb,
    api,
    seeded,
    k2,
    monitor,
    tier,
    async serve(settings = {}) {
      r.progress = watchProgress(monitor, keyIdHash(k2));
      servedAt = Date.now();
      r.served = await serveReconcile(sb.env, {
        gate: tier.gate,
        setTarget: tier.setTarget,
        kubeconfig: tier.reconcileKubeconfig.file,
        broker: tier.knative.brokerUrl,
        settings,
      });
      tier.gate.open();
      return r.served;
    },
    async midMigration(fraction, limitMs = 90_000) {
      const total = seeded.length;
      const want = Math.ceil(total * fraction);
      const gate = (r.served as FaultServedRekey).gate;
      const p = r.progress as ProgressLog;
      await gate.hold();
      const deadline = Date.now() + limitMs;
      const hash = keyIdHash(k2);
      let rev = await p.newest();
      while (rev?.keyIdHash !== hash || countsOf(rev).listed < want) {
        if (Date.now() > deadline)
          throw new Error(
            `${want} of ${total} listed: not within ${limitMs / 1000} s (phase ${rev?.phase}, ` +
              `${rev?.convergence?.reason ?? ''} ${rev?.lastError ?? ''})\n${r.served?.output()}`,
          );
        await gate.step();
        rev = await p.newest();
      }
      // the gate says no step works; the Lease says so too, or a step it lost track of that holds
      // the Lease ends first
      await untilNoStepWorks(coordinationApi(sb.env), monitor.config.provider);
      rev = await p.newest();
      if (!rev || rev.keyIdHash !== hash)
        throw new Error(`not mid-migration: the newest revision is ${rev?.number}`);
      const listed = countsOf(rev).listed;
      if (rev.phase !== 'Migrating' || listed >= total)
        throw new Error(`not mid-migration: phase ${rev.phase}, ${listed} of ${total} listed`);
      return { listed, total };
    },
    resume() {
      r.served?.gate.open();
    },
    async watch(keyId) {
      await r.progress?.stop();
      r.progress = watchProgress(monitor, keyIdHash(keyId));
      return r.progress;
    },
    async finish(limitMs, stopLoad, { keyId = k2 } = {}) {
      r.resume();
      const p = r.progress as ProgressLog;
      const final = await p
        .waitFor('Completed', (x) => x.phase === 'Completed', limitMs)
        .catch(async () => p.newest().catch(() => undefined));
      const migrationSeconds = (Date.now() - servedAt) / 1000;
      const acceptable = await stopLoad();
      const under = new Map<string, number>();
      for (const row of (await etcdSummary(sb.env)).rows)
        under.set(row.keyID ?? row.kind, (under.get(row.keyID ?? row.kind) ?? 0) + row.count);
      let notUnderNewKey = 0;
      for (let n = 0; n < namespaces; n++) {
        const keys = await keyIdsInEtcd(sb.env, `${prefix}-${n}`);
        const mine = seeded.filter((s) => s.namespace === `${prefix}-${n}`);
        notUnderNewKey += mine.filter((s) => keys.get(s.name) !== keyId).length;
      }
      const { lost, names } = await countLost(api, seeded, acceptable);
      return {
        completed: final?.phase === 'Completed',
        verified: final?.verification?.clean === true,
        notUnderNewKey,
        othersInEtcd: [...under].reduce((n, [k, c]) => n + (k === keyId ? 0 : c), 0),
        etcdKeyIds: [...under].map(([k, n]) => `${k}=${n}`).join(', '),
        lost,
        lostNames: names,
        migrationSeconds,
        ...(final ? { final } : {}),
      };
    },
    record: appendRow,
    track(stop) {
      loads.push(stop);
    },
    async close() {
      await Promise.all(loads.map((stop) => stop()));
      await r.served?.stop();
      await tier.close();
      await r.progress?.stop();
      monitor.close();
      await sb.stop();
    },
  };
  return r;
}

function countsOf(r: Revision) {
  return r.progress.resources.reduce((acc, c) => ({ listed: acc.listed + c.counts.listed }), {
    listed: 0,
  });
}

/** Every seeded secret must exist and hold an acceptable value (its seed when nobody wrote it). */
async function countLost(
  api: CoreV1Api,
  seeded: readonly Seeded[],
  acceptable: Acceptable,
): Promise<{ lost: number; names: string[] }> {
  const names: string[] = [];
  for (const s of seeded) {
    const key = `${s.namespace}/${s.name}`;
    const ok = acceptable(key) ?? new Set([s.value]);
    const now = await api
      .readNamespacedSecret({ name: s.name, namespace: s.namespace })
      .catch(() => undefined);
    if (!now || !ok.has(now.data?.value ?? '')) names.push(key);
  }
  return { lost: names.length, names: names.slice(0, 10) };
}

/** The row's verdict: survived only if every part of the proof holds. */
export function survived(p: Proof): boolean {
  return (
    p.completed && p.verified && p.notUnderNewKey === 0 && p.othersInEtcd === 0 && p.lost === 0
  );
}
