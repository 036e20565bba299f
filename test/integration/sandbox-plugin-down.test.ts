// What the apiserver does when its KMS plugin goes away: reads keep working from its cache,
// writes coast on the last key for up to ~3 minutes and then fail, and recover when it is back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { coreApi } from '../support/kube.ts';
import { pluginStart, pluginStop } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { seedSecrets } from '../support/secrets.ts';

const COAST_LIMIT_MS = 5 * 60_000; // docs/kms-facts.md §3: at most 3 min after the last good Status, plus its 60 s poll
const RECOVERY_LIMIT_MS = 3 * 60_000;

describe('sandbox proof: KMS plugin down', () => {
  let sb: TestSandbox;
  before(async () => {
    sb = await startSandbox();
  });
  after(() => sb?.stop());

  it('reads keep working, writes fail after the grace period, and recover with the plugin', async (t) => {
    const api = coreApi(sb.env);
    const ns = 'plugin-down';
    const [kept] = await seedSecrets(api, ns, { count: 1, prefix: 'kept' });
    assert.ok(kept);

    await pluginStop({ dir: sb.dir });
    const stoppedAt = Date.now();
    await seedSecrets(api, ns, { count: 1, prefix: 'right-after-stop' });

    let n = 0;
    let failure: { code?: number; body?: string } | undefined;
    while (Date.now() - stoppedAt < COAST_LIMIT_MS) {
      try {
        await seedSecrets(api, ns, { count: 1, prefix: `coast-${n++}` });
      } catch (err) {
        failure = err as { code?: number; body?: string };
        break;
      }
      await new Promise((r) => setTimeout(r, 5000));
    }
    const coastedMs = Date.now() - stoppedAt;
    assert.ok(failure, `writes still succeed ${COAST_LIMIT_MS / 1000} s after the plugin stopped`);
    t.diagnostic(
      `writes failed ${(coastedMs / 1000).toFixed(0)} s after the plugin stopped (${n - 1} writes coasted)`,
    );
    const failedWith = JSON.stringify(failure).slice(0, 400);
    t.diagnostic(`apiserver error: ${failedWith}`);
    assert.match(
      failedWith,
      /500|503|Internal|kms|KMS|transform/i,
      'the apiserver reports a storage error',
    );

    const read = await api.readNamespacedSecret({ name: 'kept-0', namespace: ns });
    assert.deepEqual(read.data, kept.data, 'reads still work while writes fail');

    await pluginStart({ dir: sb.dir });
    const restartedAt = Date.now();
    let recovered = false;
    while (!recovered && Date.now() - restartedAt < RECOVERY_LIMIT_MS) {
      try {
        await seedSecrets(api, ns, { count: 1, prefix: `recovered-${n++}` });
        recovered = true;
      } catch {
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
    assert.ok(recovered, 'writes recover once the plugin is back');
    t.diagnostic(
      `writes recovered ${((Date.now() - restartedAt) / 1000).toFixed(0)} s after the plugin restarted`,
    );
  });
});
