// The AWS KMS adapter's conformance suite, run through the real @aws-sdk/client-kms against two
// independent KMS implementations: rekey's local endpoint and moto's server (PyPI). Where moto
// differs from AWS, the suite asserts what moto does and names the gap, so a moto upgrade that
// closes one shows up as a failing assertion here. Gaps of moto 5.1.22 (docs/kms-facts.md §8):
//
// | AWS behaviour                                              | moto 5.1.22                      |
// |------------------------------------------------------------|----------------------------------|
// | DescribeKey reports CurrentKeyMaterialId                   | absent                           |
// | ListKeyRotations entries carry KeyMaterialId (+ State)     | absent (KeyId, date, type only)  |
// | Decrypt / GenerateDataKey report KeyMaterialId             | absent                           |
// | RotateKeyOnDemand is asynchronous (OnDemandRotationStart…) | synchronous, never reported      |
// | a rotation makes new material encrypt; old still decrypts  | one material forever             |
// | GetKeyRotationStatus: RotationPeriodInDays, NextRotation…  | only KeyRotationEnabled          |
// | Encrypt/RotateKeyOnDemand on a disabled key: Disabled…     | succeed                          |
// | ListKeyRotations entry KeyId is the key id                 | echoes the id or ARN as given    |
//
// The adapter's fallback still gives moto a current material that changes on every rotation:
// the newest ListKeyRotations entry, as `rotation@<RotationDate>`.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DisableKeyCommand,
  EnableKeyRotationCommand,
  KMSClient,
  ListKeyRotationsCommand,
  RotateKeyOnDemandCommand,
} from '@aws-sdk/client-kms';
import {
  type AwsKms,
  AwsKmsPermanentError,
  createAwsKms,
  ORIGINAL_MATERIAL,
} from '../../shared/adapters/aws-kms/index.ts';
import { startAwsKmsServer } from '../support/aws-kms-server/server.ts';
import { startMoto } from '../support/moto.ts';

const credentials = { accessKeyId: 'AKIDLOCALTEST', secretAccessKey: 'local-test-secret' };
const REGION = 'eu-west-1';
const MATERIAL_ID = /^[0-9a-f]{64}$/;
const MOTO_MARKER = /^rotation@\d{4}-\d\d-\d\dT[\d:.]+Z$/;

/** What a backend does where AWS's behaviour and moto's part ways. */
interface Semantics {
  /** DescribeKey, ListKeyRotations, Decrypt name key material (64 hex). */
  materialIds: boolean;
  /** RotateKeyOnDemand returns before the rotation completes; OnDemandRotationStartDate shows it. */
  asyncOnDemandRotation: boolean;
  /** GetKeyRotationStatus reports RotationPeriodInDays and NextRotationDate. */
  rotationSchedule: boolean;
  /** Encrypt and RotateKeyOnDemand refuse a disabled key with DisabledException. */
  enforcesKeyState: boolean;
}

interface Backend {
  name: string;
  semantics: Semantics;
  start(): Promise<{ endpoint: string; stop(): Promise<void> }>;
}

const BACKENDS: Backend[] = [
  {
    name: 'local AWS KMS endpoint',
    semantics: {
      materialIds: true,
      asyncOnDemandRotation: true,
      rotationSchedule: true,
      enforcesKeyState: true,
    },
    async start() {
      const server = await startAwsKmsServer({ region: REGION });
      return { endpoint: server.endpoint, stop: () => server.close() };
    },
  },
  {
    name: 'moto',
    semantics: {
      materialIds: false,
      asyncOnDemandRotation: false,
      rotationSchedule: false,
      enforcesKeyState: false,
    },
    async start() {
      const moto = await startMoto(); // fails with "run test/support/setup-moto.sh" if missing
      return { endpoint: moto.endpoint, stop: () => moto.stop() };
    },
  },
];

const FAST = { pollMs: 50, timeoutMs: 10_000 };

for (const backend of BACKENDS) {
  const s = backend.semantics;

  describe(`AWS KMS adapter conformance: ${backend.name}`, () => {
    let stop: () => Promise<void>;
    let raw: KMSClient;
    let kms: AwsKms;

    before(async () => {
      const started = await backend.start();
      stop = started.stop;
      const options = { endpoint: started.endpoint, region: REGION, credentials, maxAttempts: 1 };
      raw = new KMSClient(options);
      kms = createAwsKms(options);
    });

    after(async () => {
      kms?.close();
      raw?.destroy();
      await stop?.();
    });

    async function newKey(description = 'rekey conformance'): Promise<{ id: string; arn: string }> {
      const out = await raw.send(new CreateKeyCommand({ Description: description }));
      const { KeyId: id, Arn: arn } = out.KeyMetadata ?? {};
      assert.ok(id && arn);
      return { id, arn };
    }

    it('describes a new key: ARN, key id, state, origin and current material', async () => {
      const { id, arn } = await newKey();
      const d = await kms.describeKey(id);
      assert.equal(d.arn, arn);
      assert.match(d.arn, new RegExp(`^arn:aws:kms:${REGION}:\\d{12}:key/${id}$`));
      assert.equal(d.keyId, id);
      assert.equal(d.keyState, 'Enabled');
      assert.equal(d.origin, 'AWS_KMS');
      assert.equal(d.rotationEnabled, undefined, 'only read when asked for');
      if (s.materialIds) assert.match(d.currentKeyMaterialId ?? '', MATERIAL_ID);
      else assert.equal(d.currentKeyMaterialId, undefined, 'gap: no CurrentKeyMaterialId');
      assert.equal(
        await kms.currentMaterial(id),
        s.materialIds ? d.currentKeyMaterialId : ORIGINAL_MATERIAL,
      );
    });

    it('resolves a key by ARN and by alias to the same key', async () => {
      const { id, arn } = await newKey();
      const alias = `alias/rekey-${id.slice(0, 8)}`;
      await raw.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: id }));
      const byId = await kms.describeKey(id);
      assert.deepEqual(await kms.describeKey(arn), byId);
      assert.deepEqual(await kms.describeKey(alias), byId);
      assert.equal(await kms.keyIdentity(alias), await kms.keyIdentity(id));
    });

    it('enables rotation and reports the rotation status', async () => {
      const { id } = await newKey();
      assert.equal((await kms.rotationStatus(id)).enabled, false);
      await raw.send(new EnableKeyRotationCommand({ KeyId: id, RotationPeriodInDays: 180 }));
      const status = await kms.rotationStatus(id);
      assert.equal(status.enabled, true);
      assert.equal(status.onDemandRotationStartDate, undefined);
      if (s.rotationSchedule) {
        assert.equal(status.rotationPeriodInDays, 180);
        assert.ok(status.nextRotationDate && status.nextRotationDate.getTime() > Date.now());
      } else {
        // gap: moto answers only KeyRotationEnabled
        assert.equal(status.rotationPeriodInDays, undefined);
        assert.equal(status.nextRotationDate, undefined);
      }
      assert.equal((await kms.describeKey(id, { withRotationStatus: true })).rotationEnabled, true);
    });

    it('reports an on-demand rotation in progress the way the backend runs it', async () => {
      const { id } = await newKey();
      const before = await kms.currentMaterial(id);
      await raw.send(new RotateKeyOnDemandCommand({ KeyId: id }));
      const status = await kms.rotationStatus(id);
      if (s.asyncOnDemandRotation) {
        assert.ok(status.onDemandRotationStartDate instanceof Date, 'rotation still running');
        assert.equal(await kms.currentMaterial(id), before, 'old material current until done');
      } else {
        // gap: moto rotates synchronously and never reports OnDemandRotationStartDate
        assert.equal(status.onDemandRotationStartDate, undefined);
        assert.notEqual(await kms.currentMaterial(id), before);
      }
    });

    it('rotates on demand, waits for completion and returns the new material', async () => {
      const { id, arn } = await newKey();
      const before = await kms.currentMaterial(id);
      const identityBefore = await kms.keyIdentity(id);
      const material = await kms.rotateOnDemand(id, FAST);
      assert.notEqual(material, before);
      assert.equal(await kms.currentMaterial(id), material);
      assert.equal((await kms.rotationStatus(id)).onDemandRotationStartDate, undefined);
      const d = await kms.describeKey(id);
      assert.equal(d.arn, arn, 'the ARN never changes');
      if (s.materialIds) {
        assert.match(material, MATERIAL_ID);
        assert.equal(d.currentKeyMaterialId, material);
      } else {
        assert.match(material, MOTO_MARKER, 'fallback: newest ListKeyRotations entry');
      }
      assert.equal(await kms.keyIdentity(id), `${arn}#${material}`);
      assert.notEqual(identityBefore, `${arn}#${material}`);
    });

    it('lists every rotation across pages', async () => {
      const { id } = await newKey();
      assert.deepEqual(await kms.listRotations(id), [], 'the first material is no rotation');
      const made: string[] = [];
      for (let i = 0; i < 3; i++) made.push(await kms.rotateOnDemand(id, FAST));

      const page = await raw.send(new ListKeyRotationsCommand({ KeyId: id, Limit: 1 }));
      assert.equal(page.Rotations?.length, 1);
      assert.equal(page.Truncated, true);
      assert.ok(page.NextMarker);

      const rotations = await kms.listRotations(id, { pageSize: 1 });
      assert.equal(rotations.length, 3);
      const times = rotations.map((r) => r.rotationDate?.getTime() ?? 0);
      assert.deepEqual(
        times,
        [...times].sort((a, b) => a - b),
      );
      for (const r of rotations) assert.equal(r.rotationType, 'ON_DEMAND');
      if (s.materialIds) {
        assert.deepEqual(
          rotations.map((r) => r.keyMaterialId),
          made,
        );
        assert.deepEqual(
          rotations.map((r) => r.keyMaterialState),
          ['NON_CURRENT', 'NON_CURRENT', 'CURRENT'],
        );
      } else {
        // gap: moto lists rotations without KeyMaterialId or KeyMaterialState
        for (const r of rotations) assert.equal(r.keyMaterialId, undefined);
        assert.equal(made.at(-1), `rotation@${rotations.at(-1)?.rotationDate?.toISOString()}`);
      }
      assert.equal(await kms.currentMaterial(id), made.at(-1));
    });

    it('encrypts and decrypts with an encryption context', async () => {
      const { id, arn } = await newKey();
      const plaintext = new TextEncoder().encode('dek seed 0123456789');
      const context = { cluster: 'sandbox', purpose: 'kms-v2-seed' };
      const sealed = await kms.encrypt(id, plaintext, { encryptionContext: context });
      assert.equal(sealed.keyArn, arn);
      const opened = await kms.decrypt(sealed.ciphertext, { encryptionContext: context });
      assert.deepEqual(Buffer.from(opened.plaintext), Buffer.from(plaintext));
      assert.equal(opened.keyArn, arn);
      if (s.materialIds) assert.equal(opened.keyMaterialId, await kms.currentMaterial(id));
      else assert.equal(opened.keyMaterialId, undefined, 'gap: Decrypt names no KeyMaterialId');
      const pinned = await kms.decrypt(sealed.ciphertext, {
        keyId: id,
        encryptionContext: context,
      });
      assert.deepEqual(Buffer.from(pinned.plaintext), Buffer.from(plaintext));
    });

    it('still decrypts ciphertext sealed before a rotation', async () => {
      const { id } = await newKey();
      const old = await kms.encrypt(id, new TextEncoder().encode('before'));
      const oldMaterial = await kms.currentMaterial(id);
      const newMaterial = await kms.rotateOnDemand(id, FAST);
      const fresh = await kms.encrypt(id, new TextEncoder().encode('after'));

      const openedOld = await kms.decrypt(old.ciphertext);
      const openedNew = await kms.decrypt(fresh.ciphertext);
      assert.equal(Buffer.from(openedOld.plaintext).toString(), 'before');
      assert.equal(Buffer.from(openedNew.plaintext).toString(), 'after');
      if (s.materialIds) {
        assert.equal(openedOld.keyMaterialId, oldMaterial);
        assert.equal(openedNew.keyMaterialId, newMaterial);
      } else {
        // gap: moto keeps one material, so "old still decrypts" holds trivially there
        assert.equal(openedOld.keyMaterialId, undefined);
      }
    });

    it('maps NotFoundException to a permanent error on every operation', async () => {
      const missing = '0badc0de-0000-4000-8000-000000000000';
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['DescribeKey', () => kms.describeKey(missing)],
        ['GetKeyRotationStatus', () => kms.rotationStatus(missing)],
        ['ListKeyRotations', () => kms.listRotations(missing)],
        ['DescribeKey', () => kms.keyIdentity(missing)],
        ['DescribeKey', () => kms.rotateOnDemand(missing, FAST)],
        ['Encrypt', () => kms.encrypt(missing, new Uint8Array([1]))],
      ];
      for (const [operation, call] of calls) {
        await assert.rejects(call(), (err: unknown) => {
          assert.ok(err instanceof AwsKmsPermanentError, `${operation}: ${String(err)}`);
          assert.equal(err.name, 'AwsKmsPermanentError');
          assert.equal(err.code, 'NotFoundException');
          assert.equal(err.operation, operation);
          assert.equal(err.httpStatusCode, 400);
          assert.equal(err.retryable, false);
          assert.equal((err.cause as Error).name, 'NotFoundException');
          return true;
        });
      }
    });

    it('maps a wrong encryption context to a permanent InvalidCiphertextException', async () => {
      const { id } = await newKey();
      const sealed = await kms.encrypt(id, new Uint8Array([1, 2, 3]), {
        encryptionContext: { a: '1' },
      });
      await assert.rejects(
        kms.decrypt(sealed.ciphertext, { encryptionContext: { a: '2' } }),
        (err: unknown) =>
          err instanceof AwsKmsPermanentError && err.code === 'InvalidCiphertextException',
      );
    });

    it('refuses a disabled key as the backend does', async () => {
      const { id } = await newKey();
      await raw.send(new DisableKeyCommand({ KeyId: id }));
      assert.equal((await kms.describeKey(id)).keyState, 'Disabled');
      const encrypting = () => kms.encrypt(id, new Uint8Array([1]));
      const rotating = () => kms.rotateOnDemand(id, FAST);
      if (s.enforcesKeyState) {
        for (const [operation, call] of [
          ['Encrypt', encrypting],
          ['RotateKeyOnDemand', rotating],
        ] as const) {
          await assert.rejects(call(), (err: unknown) => {
            assert.ok(err instanceof AwsKmsPermanentError, `${operation}: ${String(err)}`);
            assert.equal(err.code, 'DisabledException');
            assert.equal(err.operation, operation);
            return true;
          });
        }
      } else {
        // gap: moto encrypts under and rotates a disabled key
        assert.ok((await encrypting()).ciphertext.length > 0);
        assert.match(await rotating(), MOTO_MARKER);
      }
    });
  });
}
