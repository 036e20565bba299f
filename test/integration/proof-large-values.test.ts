// The proof on a cluster of large objects: etcd's Range answers a page of values in one gRPC
// message, and gRPC clients refuse a message over 4 MiB by default. Eight Secrets of ~950 KB (a
// Helm release Secret comes close to 1 MiB) side by side make one page of the scan ~7.6 MB; the
// migration must still end Completed and verified, every one of them scanned.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { keyIdsInEtcd } from '../support/etcd-keys.ts';
import { coreApi } from '../support/kube.ts';
import { type RekeyUnderTest, rekeyFor } from '../support/rekey-fixture.ts';
import { rotate } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { ensureNamespace } from '../support/secrets.ts';
import { untilSettled } from '../support/settle.ts';

const NS = 'large';
const COUNT = 8;

describe('rekey: the etcd proof over values larger than a gRPC message', () => {
  let sb: TestSandbox;
  let rekey: RekeyUnderTest;
  before(async () => {
    sb = await startSandbox();
    const api = coreApi(sb.env);
    await ensureNamespace(api, NS);
    for (let i = 0; i < COUNT; i++) {
      await api.createNamespacedSecret({
        namespace: NS,
        body: {
          metadata: { name: `release-${i}` },
          // ~950 KB stored: under etcd's 1.5 MiB request limit, over 4 MiB for a page of five
          data: { release: randomBytes(700_000).toString('base64') },
        },
      });
    }
    rekey = rekeyFor(sb.env);
  });
  after(async () => {
    rekey?.close();
    await sb?.stop();
  });

  it('completes and verifies, every large value scanned', async (t) => {
    await untilSettled(rekey, 180_000);
    const k2 = await rotate({ dir: sb.dir });
    const steps = await untilSettled(rekey, 300_000, { keyId: k2 });
    const last = steps.at(-1);
    t.diagnostic(JSON.stringify(last));
    assert.ok(last?.kind === 'step');
    assert.equal(last.phase, 'Completed', JSON.stringify(last));
    const stored = (await rekey.deps.store.list(sb.env.kms.providerName)).find(
      (s) => s.revision.name === last.revision,
    );
    assert.equal(stored?.revision.verification?.clean, true);
    assert.ok(
      (stored?.revision.verification?.scanned ?? 0) >= COUNT,
      `scanned ${stored?.revision.verification?.scanned}`,
    );
    const inEtcd = await keyIdsInEtcd(sb.env, NS);
    assert.equal(inEtcd.size, COUNT);
    for (const [name, keyId] of inEtcd) assert.equal(keyId, k2, `${name} under the new key`);
  });
});
