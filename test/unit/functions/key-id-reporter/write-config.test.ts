// The node agent's write mode on a real directory: a revision replaces the file whole (no temp
// file left behind), the replaced file is kept as `.previous`, both readable by the owner only;
// this node's KMS endpoint goes into its copy (so its hash differs from the revision's); a
// revision the apiserver would refuse is never written.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { writeEncryptionConfigFile } from '../../../../functions/key-id-reporter/write-config.ts';
import { configHash } from '../../../../shared/domain/encryption-revisions/revision.ts';

const dir = mkdtempSync(join(tmpdir(), 'rekey-write-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const doc = (providers: string) =>
  `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources: [secrets]\n    providers:\n${providers}`;
const IDENTITY = doc('      - identity: {}\n');
const KMS = doc(
  '      - kms: {apiVersion: v2, name: kms-b, endpoint: "unix:///shared/kms-b.sock"}\n      - identity: {}\n',
);

describe('writeEncryptionConfigFile', () => {
  const file = join(dir, 'encryption-config.yaml');

  it('replaces the file atomically and keeps the previous one, both 0600', () => {
    writeFileSync(file, IDENTITY);
    const w = writeEncryptionConfigFile({ file, text: KMS });
    assert.deepEqual(w, {
      hash: configHash(KMS),
      previousHash: configHash(IDENTITY),
      changed: true,
    });
    assert.equal(readFileSync(file, 'utf8'), KMS);
    assert.equal(readFileSync(`${file}.previous`, 'utf8'), IDENTITY);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(`${file}.previous`).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir).sort(), [
      'encryption-config.yaml',
      'encryption-config.yaml.previous',
    ]);
  });

  it('writes nothing when the file already holds the revision', () => {
    const w = writeEncryptionConfigFile({ file, text: KMS });
    assert.equal(w.changed, false);
    assert.equal(readFileSync(`${file}.previous`, 'utf8'), IDENTITY);
  });

  it("puts this node's plugin endpoint in its copy", () => {
    const w = writeEncryptionConfigFile({
      file,
      text: IDENTITY.replace(
        'identity: {}',
        'identity: {}\n      - kms: {apiVersion: v2, name: kms-b, endpoint: "unix:///x.sock"}',
      ),
      kmsEndpoints: { 'kms-b': 'unix:///node-1/kms-b.sock' },
    });
    const written = readFileSync(file, 'utf8');
    assert.match(written, /unix:\/\/\/node-1\/kms-b\.sock/);
    assert.equal(w.hash, configHash(written));
  });

  it('refuses a revision the apiserver would refuse, leaving the file as it was', () => {
    const before = readFileSync(file, 'utf8');
    assert.throws(() => writeEncryptionConfigFile({ file, text: doc('      - rot13: {}\n') }), {
      name: 'EncryptionConfigError',
    });
    assert.equal(readFileSync(file, 'utf8'), before);
  });
});
