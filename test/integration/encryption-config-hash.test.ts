// The config-hash reader on a real pair of kube-apiservers (1.34): each exports the `sha256:` hash
// of the EncryptionConfiguration file it applied, under its own apiserver_id_hash, and the reader,
// with rekey's identity, reads it from each apiserver's /metrics with the apiserver's node. The
// sandbox's two files differ (each names its own plugin socket), so the hashes differ too.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createConfigHashReader } from '../../shared/adapters/apiserver-metrics/config-hash-reader.ts';
import { createRestClient } from '../../shared/adapters/k8s/rest-client.ts';
import { typedApi } from '../../shared/adapters/k8s/typed-api.ts';
import { configHash } from '../../shared/domain/encryption-revisions/revision.ts';
import { systemClock } from '../../shared/ports/clock.ts';
import { connection } from '../support/kube.ts';
import { waitFor } from '../support/sandbox/net.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';

describe('config-hash reader: two real apiservers', () => {
  let sb: TestSandbox;
  let close = () => {};

  before(async () => {
    sb = await startSandbox({ apiservers: 2 });
  });
  after(async () => {
    close();
    await sb?.stop();
  });

  it("reports each live apiserver on the hash of its own node's file", async () => {
    const conn = connection(sb.env, { user: 'rekey' });
    const rest = createRestClient(conn);
    close = () => rest.close();
    const reader = createConfigHashReader({
      rest,
      coordination: typedApi(rest).coordination,
      apiserverUrls: sb.env.apiservers.map((a) => a.url),
      fallbackServer: conn.server,
      clock: systemClock,
    });
    const expected = new Map(
      sb.env.apiservers.map((a) => [a.hostname, configHash(readFileSync(a.encryptionConfig))]),
    );
    assert.equal(new Set(expected.values()).size, 2);
    const snap = await waitFor(
      'both apiservers live with a configuration hash',
      async () => {
        const s = await reader.read();
        return s.readable && s.live.length === 2 ? s : undefined;
      },
      { timeoutMs: 120_000 },
    );
    assert.deepEqual(
      new Map(snap.live.map((a) => [a.node, a.applied])),
      expected,
      'each apiserver reports the hash of the file on its node',
    );
    assert.deepEqual(
      snap.live.map((a) => a.reloadFailures),
      [0, 0],
    );
  });
});
