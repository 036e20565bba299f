// The node agent's write mode, one tick at a time: the file as found becomes revision 1, the
// desired revision is written with this node's endpoints and its hash reported, a failure is
// reported (not thrown) naming the revision, and REKEY_KMS_ENDPOINTS is validated.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  createConfigWriter,
  parseKmsEndpoints,
} from '../../../../functions/key-id-reporter/config-writer.ts';
import { fromConfigMap } from '../../../../shared/adapters/k8s/key-id-reports.ts';
import { configHash } from '../../../../shared/domain/encryption-revisions/revision.ts';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const FOUND =
  'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources: [secrets]\n    providers:\n      - identity: {}\n';
const WITH_KMS = `${FOUND.replace('      - identity: {}\n', '')}      - kms:\n          apiVersion: v2\n          name: k\n          endpoint: unix:///elsewhere.sock\n      - identity: {}\n`;

describe('config writer', () => {
  it('records the file as found, then writes the desired revision localized', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'writer-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(file, FOUND);
    let stored: { number: number; text: string } | undefined;
    const recorded: string[] = [];
    const writer = createConfigWriter({
      source: {
        desired: async () => stored,
        recordFound: async (text, hash) => {
          recorded.push(hash);
          stored = { number: 1, text };
        },
      },
      file,
      kmsEndpoints: { k: 'unix:///run/here.sock' },
      log: quiet,
    });
    assert.deepEqual(await writer.tick(), { kmsEndpoints: { k: 'unix:///run/here.sock' } });
    assert.deepEqual(recorded, [configHash(FOUND)]);
    stored = { number: 2, text: WITH_KMS };
    const state = await writer.tick();
    assert.equal(state.revision, 2);
    assert.equal(state.hash, configHash(readFileSync(file)));
    assert.match(readFileSync(file, 'utf8'), /unix:\/\/\/run\/here\.sock/);
  });

  it('reports a revision it cannot write, and keeps going', async () => {
    const writer = createConfigWriter({
      source: { desired: async () => ({ number: 5, text: FOUND }), recordFound: async () => {} },
      file: join(tmpdir(), 'no-such-dir-for-rekey', 'config.yaml'),
      kmsEndpoints: {},
      log: quiet,
    });
    const state = await writer.tick();
    assert.equal(state.revision, 5);
    assert.equal(state.hash, undefined);
    assert.match(state.error ?? '', /ENOENT/);
  });

  it('parses REKEY_KMS_ENDPOINTS', () => {
    assert.deepEqual(parseKmsEndpoints('a=unix:///a.sock, b=unix:///b.sock'), {
      a: 'unix:///a.sock',
      b: 'unix:///b.sock',
    });
    assert.deepEqual(parseKmsEndpoints(undefined), {});
    assert.throws(() => parseKmsEndpoints('a=/a.sock'), /not <kms provider name>=unix/);
  });

  it('the report carries configWrite; an older report without it still reads', () => {
    const base = {
      node: 'n',
      provider: 'p',
      keyId: 'k',
      observedAt: '2026-01-01T00:00:00Z',
      format: '2',
    };
    const r = fromConfigMap({
      data: {
        ...base,
        configWrite: JSON.stringify({
          revision: 3,
          hash: 'sha256:x',
          kmsEndpoints: { k: 'unix:///s' },
        }),
      },
    });
    assert.deepEqual(r?.configWrite, {
      revision: 3,
      hash: 'sha256:x',
      kmsEndpoints: { k: 'unix:///s' },
    });
    assert.equal(fromConfigMap({ data: base })?.configWrite, undefined);
    assert.equal(fromConfigMap({ data: { ...base, configWrite: '{' } })?.configWrite, undefined);
  });
});
