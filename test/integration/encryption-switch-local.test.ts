// `rekey encryption switch` to and from the local providers, on two real kube-apiservers with
// automatic reload and a node agent in write mode on each node, one switch after the other:
// identity -> secretbox -> aescbc -> kms:sandbox-kms -> aescbc -> kms:sandbox-kms -> identity
// (with the CLI test's identity -> KMS and KMS -> KMS: every mode migration an operator runs).
// Each must end with every value in scope under the target, proven twice: by rekey's own etcd
// scan (the switch's stage 3) and by reading the raw etcd values here and checking their prefix
// (`k8s:enc:secretbox:v1:<key name>:`, `k8s:enc:aescbc:v1:<key name>:`,
// `k8s:enc:kms:v2:<provider>:`, plain protobuf for identity). Writers write through both
// apiservers throughout each switch: no lost update, untouched data intact, and an audit of every
// applied configuration proving no apiserver wrote with a provider the other could not read. The
// CLI exits 0 on each; aesgcm is refused (exit 2). The local keys rekey generates are found in the
// files the apiservers read and nowhere in what the CLI or the node agents printed, and no
// Secret's value ever appears there either.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { CoreV1Api } from '@kubernetes/client-node';
import {
  parseEncryptionDocument,
  providersFor,
  writeKey,
} from '../../shared/domain/encryption-revisions/document.ts';
import { checkWriteReadSafety } from '../../shared/domain/encryption-revisions/write-read-safety.ts';
import { readRawValues } from '../support/independent-etcd.ts';
import { type ManagedSwitch, startManagedSwitch } from '../support/managed-switch.ts';
import { PROVIDER_NAME } from '../support/sandbox/sandbox.ts';
import { seedSecrets } from '../support/secrets.ts';
import { switchWithWriters } from '../support/switch-with-writers.ts';

const NS = 'switch-local';
// three stages, each waiting for both apiservers to reload their file, on a loaded machine
const SWITCH_TIMEOUT = '20m';

/** The prefix every etcd value written with `writeKey` starts with; undefined for identity. */
function expectedPrefix(key: string): string | undefined {
  if (key === 'identity') return undefined;
  const [type = '', name = ''] = key.split(/:(.*)/s);
  return type === 'kms' ? `k8s:enc:kms:v2:${name}:` : `k8s:enc:${type}:v1:${name}:`;
}

/** Every local key (aescbc, secretbox, aesgcm secrets) in an EncryptionConfiguration's text. */
function localKeysIn(text: string): string[] {
  const secrets: string[] = [];
  for (const e of parseEncryptionDocument(text).resources) {
    for (const p of e.providers) {
      for (const type of ['aescbc', 'secretbox', 'aesgcm']) {
        const keys = (p[type] as { keys?: { secret?: unknown }[] } | undefined)?.keys ?? [];
        for (const k of keys) if (typeof k.secret === 'string') secrets.push(k.secret);
      }
    }
  }
  return secrets;
}

describe('rekey encryption switch to and from local providers', () => {
  let h: ManagedSwitch;
  const values: string[] = [];
  const localKeys = new Set<string>();
  /** Written throughout every switch. */
  let owned: { namespace: string; name: string }[] = [];
  /** Never written: their data must survive every switch. */
  let untouched = new Map<string, string>();

  before(async () => {
    h = await startManagedSwitch({ apiservers: 2, initial: 'identity' });
    const seeded = await seedSecrets(h.apis[0] as CoreV1Api, NS, { count: 50 });
    values.push(...seeded.map((s) => s.data?.value ?? ''));
    owned = seeded.slice(0, 16).map((s) => ({ namespace: NS, name: s.metadata?.name ?? '' }));
    untouched = new Map(seeded.slice(16).map((s) => [s.metadata?.name ?? '', s.data?.value ?? '']));
  });

  after(async () => {
    await h?.stop();
  });

  /** Reads each node's file: the key it writes secrets with (the same on every node). */
  function nodeWriteKey(): string {
    const providers = h.sb.env.apiservers.map((a) => {
      const text = readFileSync(a.encryptionConfig, 'utf8');
      for (const k of localKeysIn(text)) localKeys.add(k);
      const [first] = providersFor(parseEncryptionDocument(text), 'secrets') ?? [];
      assert.ok(first, `${a.hostname}: secrets listed in its file`);
      return writeKey(first);
    });
    assert.equal(new Set(providers).size, 1, `every node writes with one key: ${providers}`);
    return providers[0] as string;
  }

  /** Reads every value in scope from etcd, raw, and checks the prefix the provider writes. */
  async function assertRawPrefix(writes: string): Promise<number> {
    const want = expectedPrefix(writes);
    const { etcd } = h.sb.env;
    let checked = 0;
    for (const resource of h.sb.env.encrypt ?? h.sb.env.resources) {
      const raw = await readRawValues(etcd.url, `${etcd.prefix}/${resource}/`);
      assert.ok(raw.size > 0, `${resource}: etcd holds values`);
      for (const [key, value] of raw) {
        const head = value.subarray(0, 80).toString('latin1');
        if (want)
          assert.ok(head.startsWith(want), `${key} starts with ${want}, got ${head.slice(0, 40)}`);
        else {
          assert.ok(!head.startsWith('k8s:enc:'), `${key} is plain, got ${head.slice(0, 40)}`);
          assert.ok(head.startsWith('k8s\0'), `${key} is the apiserver's protobuf`);
        }
        checked++;
      }
    }
    return checked;
  }

  async function switchTo(target: string, from: string): Promise<void> {
    const r = await switchWithWriters(h, owned, [
      'encryption',
      'switch',
      '--to',
      target,
      '--until-complete',
      '--timeout',
      SWITCH_TIMEOUT,
    ]);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual([...r.unknown], [], 'every applied hash is a file a node agent wrote');
    assert.ok(r.moments.length > 3, 'the audit saw the rollout');
    const resources = h.sb.env.encrypt ?? h.sb.env.resources;
    assert.deepEqual(checkWriteReadSafety(r.moments, resources), [], 'no unreadable write');
    for (const [name, value] of untouched) {
      for (const api of h.apis) {
        const s = await api.readNamespacedSecret({ name, namespace: NS });
        assert.equal(s.data?.value, value, `${name} intact`);
      }
    }
    const to = nodeWriteKey();
    assert.ok(to === target || to.startsWith(`${target}:`), `the nodes write with ${to}`);
    assert.match(r.out, new RegExp(`completed: .* from ${from} to ${to}`));
    // rekey's own proof: stage 3's etcd scan found values in scope and none under the old provider
    const proof = /etcd: (\d+) value\(s\) in scope, none under (\S+)/.exec(r.out);
    assert.ok(proof, `rekey proved it from etcd:\n${r.out}`);
    assert.ok(Number(proof[1]) >= 50, 'the scan saw the seeded secrets');
    assert.equal(proof[2], from);
    // and the bytes themselves, read here
    assert.ok((await assertRawPrefix(to)) >= 50);
    const status = await h.run(['encryption', 'status', '--output', 'json']);
    assert.equal(status.code, 0, status.out);
    const s = JSON.parse(status.out) as { revisions: { stage: string; state: string }[] };
    assert.deepEqual(
      s.revisions.slice(-2).map((x) => [x.stage, x.state]),
      [
        ['write', 'applied'],
        ['remove-old', 'applied'],
      ],
    );
  }

  it('refuses aesgcm with upstream reason (exit 2), changing nothing', async () => {
    const before = (await h.revisions.list()).length;
    const r = await h.run(['encryption', 'switch', '--to', 'aesgcm']);
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /aesgcm is refused: .*200,000 writes/);
    assert.equal((await h.revisions.list()).length, before);
  });

  it('identity -> secretbox', async () => {
    await switchTo('secretbox', 'identity');
  });

  it('secretbox -> aescbc', async () => {
    await switchTo('aescbc', nodeWriteKey());
  });

  it('aescbc -> kms:sandbox-kms', async () => {
    await switchTo(`kms:${PROVIDER_NAME}`, nodeWriteKey());
  });

  it('kms:sandbox-kms -> aescbc', async () => {
    await switchTo('aescbc', `kms:${PROVIDER_NAME}`);
  });

  it('aescbc -> kms:sandbox-kms, again', async () => {
    await switchTo(`kms:${PROVIDER_NAME}`, nodeWriteKey());
  });

  it('kms:sandbox-kms -> identity', async () => {
    await switchTo('identity', `kms:${PROVIDER_NAME}`);
  });

  it('generated keys lived in the revisions and files only; no key or value was ever printed', async () => {
    // every revision rekey stored, which is where the keys were generated into
    for (const s of await h.revisions.list()) for (const k of localKeysIn(s.text)) localKeys.add(k);
    assert.ok(localKeys.size >= 2, 'a secretbox and an aescbc key were generated');
    const printed = h.printed();
    assert.ok(printed.length > 0);
    for (const k of localKeys) assert.ok(!printed.includes(k), 'a local key was printed');
    for (const v of values) assert.ok(!printed.includes(v), 'a secret value was printed');
    assert.doesNotMatch(printed, /k8s:enc:/, 'no stored value was printed');
  });
});
