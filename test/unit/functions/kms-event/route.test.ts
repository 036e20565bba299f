// Contract tests of kms-event through app.request(): every KMS event fixture as a CloudEvent on
// /kms-event (binary and structured mode) and every raw EventBridge fixture on
// /kms-event/eventbridge, outcomes, and events for another key.

import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { StepOutcome } from '../../../../shared/core/reconcile-step.ts';
import {
  cloudEventRequest,
  fixture,
  fns,
  type Json,
  MODES,
} from '../../../support/unit/functions-fixtures.ts';
import {
  AWS_KEY,
  apiDestination,
  assertAnswer,
  CLOUD_EVENT_FIXTURES,
  GCP_KEY,
  json,
  OTHER_AWS_KEY,
  RAW_FIXTURES,
  raw,
  STEP,
  setup,
} from '../../../support/unit/kms-event-harness.ts';

describe('kms-event: every fixture', () => {
  it('covers every KMS fixture file in test/fixtures/events', () => {
    const files = readdirSync(new URL('../../../fixtures/events/', import.meta.url)).filter(
      (f) =>
        f.endsWith('.json') && !f.startsWith('apiserversource-') && !f.startsWith('eventgrid-'),
    );
    assert.deepEqual(
      files.sort(),
      [...Object.keys(CLOUD_EVENT_FIXTURES), ...Object.keys(RAW_FIXTURES)].sort(),
    );
  });

  for (const [file, expected] of Object.entries(CLOUD_EVENT_FIXTURES)) {
    for (const mode of MODES) {
      it(`${file} in ${mode} mode on /kms-event => 200 ${expected.outcome}`, async () => {
        const { app, calls } = setup();
        const res = await app.request('/kms-event', cloudEventRequest(fixture(file), mode));
        await assertAnswer(res, calls, expected, `${file} ${mode}`);
      });
    }
  }

  for (const [file, expected] of Object.entries(RAW_FIXTURES)) {
    it(`${file} raw on /kms-event/eventbridge with the token => 200 ${expected.outcome}`, async () => {
      const { app, calls } = setup();
      const res = await app.request('/kms-event/eventbridge', raw(fixture(file)));
      await assertAnswer(res, calls, expected, file);
    });
    for (const mode of MODES) {
      it(`${file} as an API destination CloudEvent (${mode}) on /kms-event => ${expected.outcome}`, async () => {
        const { app, calls } = setup();
        const res = await app.request(
          '/kms-event',
          cloudEventRequest(apiDestination(fixture(file)), mode),
        );
        await assertAnswer(res, calls, expected, `${file} api-destination ${mode}`);
      });
    }
  }

  it('a TriggerMesh CloudEvent in binary mode carries the awseventssource extension as ce-*', () => {
    const req = cloudEventRequest(fixture('ce-triggermesh-eventbridge.json'), 'binary');
    assert.equal(req.headers['ce-awseventssource'], 'aws.kms');
    assert.equal(req.headers['ce-type'], 'com.amazon.events.event');
    assert.equal(req.headers['content-type'], 'application/json');
  });
});

describe('kms-event: outcomes besides rotation and danger', () => {
  const ignoredCloudEvents: [string, Json][] = [
    [
      'an Azure secret event',
      (() => {
        const ev = fixture('azure-key-new-version.json');
        ev.type = 'Microsoft.KeyVault.SecretNewVersionCreated';
        return ev;
      })(),
    ],
    [
      'a GCP audit log of another service',
      (() => {
        const ev = fixture('gcp-create-version.json');
        ((ev.data as Json).protoPayload as Json).serviceName = 'storage.googleapis.com';
        return ev;
      })(),
    ],
    [
      'a failed GCP call',
      (() => {
        const ev = fixture('gcp-create-version.json');
        ((ev.data as Json).protoPayload as Json).status = { code: 7, message: 'denied' };
        return ev;
      })(),
    ],
    [
      'a GCP KMS read (GetCryptoKey)',
      (() => {
        const ev = fixture('gcp-create-version.json');
        ((ev.data as Json).protoPayload as Json).methodName = 'GetCryptoKey';
        return ev;
      })(),
    ],
  ];
  for (const [what, ev] of ignoredCloudEvents) {
    it(`${what} => 200 ignored, nothing runs`, async () => {
      for (const mode of MODES) {
        const { app, calls } = setup();
        const res = await app.request('/kms-event', cloudEventRequest(ev, mode));
        await assertAnswer(res, calls, { outcome: 'ignored' }, `${what} ${mode}`);
      }
    });
  }

  const ignoredRaw: [string, Json][] = [
    [
      'an EventBridge event of another service',
      { ...fixture('aws-cmk-rotation-automatic.json'), source: 'aws.ec2' },
    ],
    [
      'a KMS event that is not about rotation',
      {
        ...fixture('aws-cmk-rotation-automatic.json'),
        'detail-type': 'KMS Custom Key Store Event',
      },
    ],
    [
      'a failed CloudTrail call',
      (() => {
        const ev = fixture('aws-cloudtrail-rotate-key-on-demand.json');
        (ev.detail as Json).errorCode = 'AccessDeniedException';
        return ev;
      })(),
    ],
    [
      'a CloudTrail Encrypt call',
      (() => {
        const ev = fixture('aws-cloudtrail-rotate-key-on-demand.json');
        (ev.detail as Json).eventName = 'Encrypt';
        return ev;
      })(),
    ],
    [
      'a CloudTrail eventName that is an Object prototype key',
      (() => {
        const ev = fixture('aws-cloudtrail-rotate-key-on-demand.json');
        (ev.detail as Json).eventName = 'constructor';
        return ev;
      })(),
    ],
  ];
  for (const [what, ev] of ignoredRaw) {
    it(`${what} => 200 ignored on both routes, nothing runs`, async () => {
      const a = setup();
      await assertAnswer(
        await a.app.request('/kms-event/eventbridge', raw(ev)),
        a.calls,
        { outcome: 'ignored' },
        `${what} raw`,
      );
      const b = setup();
      await assertAnswer(
        await b.app.request('/kms-event', cloudEventRequest(apiDestination(ev), 'structured')),
        b.calls,
        { outcome: 'ignored' },
        `${what} CloudEvent`,
      );
    });
  }

  it('a rotation already noted says why it was not recorded, and still runs a step', async () => {
    const { app, calls } = setup({
      note: { recorded: false, reason: 'duplicate: this rotation is already recorded' },
    });
    const res = await app.request(
      '/kms-event',
      cloudEventRequest(fixture('ce-triggermesh-eventbridge.json'), 'binary'),
    );
    assert.equal(res.status, 200);
    const body = await json(res);
    assert.deepEqual(body, {
      outcome: 'rotation',
      reason: 'duplicate: this rotation is already recorded',
      step: STEP,
    });
    assert.deepEqual(fns(calls), ['note', 'step']);
  });

  it('the same rotation delivered twice runs note+step twice (the core makes it idempotent)', async () => {
    const { app, calls } = setup();
    const ev = fixture('ce-triggermesh-eventbridge.json');
    for (let i = 0; i < 2; i++) {
      const res = await app.request('/kms-event', cloudEventRequest(ev, 'binary'));
      assert.equal(res.status, 200);
    }
    assert.deepEqual(fns(calls), ['note', 'step', 'note', 'step']);
  });

  it('a step that finds the lock busy is still a 200 (the holder does the work)', async () => {
    const busy: StepOutcome = { kind: 'busy', provider: 'aws-kms', heldBy: 'rekey-reconcile-1' };
    const { app, calls } = setup({ step: () => busy });
    const res = await app.request(
      '/kms-event',
      cloudEventRequest(fixture('gcp-update-crypto-key.json'), 'structured'),
    );
    assert.equal(res.status, 200);
    assert.deepEqual(await json(res), { outcome: 'reobserved', step: busy });
    assert.deepEqual(fns(calls), ['step']);
  });
});

describe('kms-event: an event for another key', () => {
  const notIgnored = [
    ...Object.entries(CLOUD_EVENT_FIXTURES).map(([f, e]) => ({ f, e, raw: false })),
    ...Object.entries(RAW_FIXTURES).map(([f, e]) => ({ f, e, raw: true })),
  ];
  const otherKey: Record<string, string> = {
    aws: OTHER_AWS_KEY,
    gcp: 'projects/acme-platform-prod/locations/europe-west1/keyRings/k8s-etcd/cryptoKeys/other-kek',
    azure: 'https://kv-acme-etcd.vault.azure.net/keys/other-kek',
  };
  for (const { f, raw: isRaw } of notIgnored) {
    const cloud = f.startsWith('gcp') ? 'gcp' : f.startsWith('azure') ? 'azure' : 'aws';
    it(`${f} with REKEY_KMS_KEY naming another ${cloud} key => 200 unrelated, no note/danger/step`, async () => {
      const { app, calls } = setup({ kmsKey: otherKey[cloud] as string });
      const res = isRaw
        ? await app.request('/kms-event/eventbridge', raw(fixture(f)))
        : await app.request('/kms-event', cloudEventRequest(fixture(f), 'structured'));
      const body = await json(res);
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(body.outcome, 'unrelated');
      assert.match(String(body.reason), /nothing to do/);
      assert.equal(body.step, undefined);
      assert.deepEqual(calls, []);
    });
  }

  const sameKeyForms: [string, string, string][] = [
    [
      'the AWS key id without ARN',
      'aws-cmk-rotation-automatic.json',
      '1234abcd-12ab-34cd-56ef-1234567890ab',
    ],
    [
      'the AWS ARN in upper case hex',
      'aws-cmk-rotation-automatic.json',
      AWS_KEY.toUpperCase()
        .replace('ARN:AWS:KMS:US-WEST-2', 'arn:aws:kms:us-west-2')
        .replace(':KEY/', ':key/'),
    ],
    ['a GCP key version name', 'gcp-create-version.json', `${GCP_KEY}/cryptoKeyVersions/1`],
    [
      'the Azure key id with a trailing slash, other case',
      'azure-key-new-version.json',
      'https://KV-ACME-ETCD.vault.azure.net/keys/etcd-kek/',
    ],
  ];
  for (const [what, f, kmsKey] of sameKeyForms) {
    it(`REKEY_KMS_KEY as ${what} still matches the event's key`, async () => {
      const { app, calls } = setup({ kmsKey });
      const res = f.startsWith('aws-')
        ? await app.request('/kms-event/eventbridge', raw(fixture(f)))
        : await app.request('/kms-event', cloudEventRequest(fixture(f), 'binary'));
      const body = await json(res);
      assert.equal(res.status, 200);
      assert.equal(body.outcome, 'rotation', JSON.stringify(body));
      assert.deepEqual(fns(calls), ['note', 'step']);
    });
  }

  it('an ignored event stays ignored (not unrelated) whatever the configured key', async () => {
    const { app, calls } = setup({ kmsKey: OTHER_AWS_KEY });
    const ev = { ...fixture('aws-cmk-rotation-automatic.json'), source: 'aws.ec2' };
    const res = await app.request('/kms-event/eventbridge', raw(ev));
    assert.equal(res.status, 200);
    assert.equal((await json(res)).outcome, 'ignored');
    assert.deepEqual(calls, []);
  });
});
