// Runs one `rekey encryption` command on a managed-encryption sandbox (managed-switch.ts) while
// writers write through every apiserver and every applied configuration is audited: what each
// live apiserver reported applying, every half second, as the documents its node agent wrote.
// Afterwards: no writer saw an error, and every object reads back, through every apiserver, as it
// was last written (no lost update). The caller checks the moments with checkWriteReadSafety.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import type { CoreV1Api } from '@kubernetes/client-node';
import {
  parseEncryptionDocument,
  type RawEncryptionConfig,
} from '../../shared/domain/encryption-revisions/document.ts';
import { configHash } from '../../shared/domain/encryption-revisions/revision.ts';
import type { AppliedMoment } from '../../shared/domain/encryption-revisions/write-read-safety.ts';
import type { CliRun, ManagedSwitch } from './managed-switch.ts';
import { startWorkload } from './workload.ts';

export interface AuditedRun extends CliRun {
  /** What every live apiserver had applied, every half second of the run. */
  moments: AppliedMoment[];
  /** Applied hashes that were no file a node agent wrote (`node: hash`). */
  unknown: Set<string>;
}

export async function switchWithWriters(
  h: ManagedSwitch,
  owned: readonly { namespace: string; name: string }[],
  args: string[],
): Promise<AuditedRun> {
  const { env } = h.sb;
  const known = new Map<string, RawEncryptionConfig>();
  const learnFiles = () => {
    for (const a of env.apiservers) {
      for (const f of [a.encryptionConfig, `${a.encryptionConfig}.previous`]) {
        if (!existsSync(f)) continue;
        const text = readFileSync(f, 'utf8');
        if (!known.has(configHash(text)))
          known.set(configHash(text), parseEncryptionDocument(text));
      }
    }
  };
  learnFiles();
  const moments: AppliedMoment[] = [];
  const unknown = new Set<string>();
  let auditing = true;
  const audit = (async () => {
    while (auditing) {
      learnFiles();
      const snap = await h.reader.read().catch(() => undefined);
      if (snap?.readable) {
        learnFiles();
        const applied: Record<string, RawEncryptionConfig> = {};
        for (const a of snap.live) {
          const doc = a.applied ? known.get(a.applied) : undefined;
          if (doc) applied[a.node ?? a.id] = doc;
          else unknown.add(`${a.node}: ${a.applied}`);
        }
        moments.push({ at: new Date().toISOString(), applied });
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  // the owned objects split between the apiservers, two clients each
  const share = Math.ceil(owned.length / h.apis.length);
  const writers = h.apis.map((api, i) =>
    startWorkload(api as CoreV1Api, owned.slice(i * share, (i + 1) * share), {
      clients: 2,
      pauseMs: 20,
    }),
  );
  let result: CliRun;
  try {
    result = await h.run(args);
  } finally {
    auditing = false;
    await audit;
    const results = await Promise.all(writers.map((w) => w.stop()));
    for (const r of results) assert.deepEqual(r.errors, [], 'no write or read failed');
    for (const r of results) {
      for (const [key, value] of r.lastWritten) {
        const [namespace = '', name = ''] = key.split('/');
        for (const api of h.apis) {
          const s = await api.readNamespacedSecret({ name, namespace });
          assert.equal(s.data?.value, value, `${key} as last written (no lost update)`);
        }
      }
    }
  }
  return { ...result, moments, unknown };
}
