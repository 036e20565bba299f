// Contract tests of the webhook function through app.request(): Standard Webhooks signed commands
// (`reconcile`, `status`, `rotate`) with recording fake deps. Asserted: the status, the body, and
// that a command runs exactly once; a forged, stale or replayed message changes nothing; a KMS
// failure of `rotate` that may pass is a 503 Knative retries, a permanent one a 4xx it drops.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { KMSServiceException } from '@aws-sdk/client-kms';
import { status as grpcStatus, Metadata } from '@grpc/grpc-js';
import { Webhook } from 'standardwebhooks';
import type { WebhookDeps } from '../../../../functions/webhook/handler.ts';
import { mountWebhook } from '../../../../functions/webhook/route.ts';
import { toAwsKmsError } from '../../../../shared/adapters/aws-kms/errors.ts';
import { toGcpKmsError } from '../../../../shared/adapters/gcp-kms/errors.ts';
import { createKmsRotator, type KmsRotator } from '../../../../shared/adapters/kms-rotator.ts';
import { rotateThenStep } from '../../../../shared/app/rotate-then-step.ts';
import type { StepOutcome } from '../../../../shared/core/reconcile-step.ts';
import { TransientError } from '../../../../shared/http/errors.ts';
import { MemoryReplayClaims } from '../../../../shared/http/replay-cache.ts';
import type { VerifyWebhookOptions } from '../../../../shared/http/webhook-verify.ts';
import {
  type Call,
  fakeStep,
  fns,
  type Json,
  stepOutcome,
  testApp,
} from '../../../support/unit/functions-fixtures.ts';

const secret = () => `whsec_${randomBytes(24).toString('base64')}`;
const OLD = secret();
const NEW = secret();
const STATUS = { provider: 'aws-kms', phase: 'Migrating', revision: 'encryption-key-aws-kms-3' };
const ROTATED = { rotated: true, keyArn: 'arn:aws:kms:us-west-2:111122223333:key/1234abcd' };
const STEP = stepOutcome({ kind: 'migrate' }, true);

let counter = 0;
const nextId = () => `msg_${Date.now()}_${counter++}`;

/** A Standard Webhooks request: `body` signed with `sec` for `id` at `at`. */
function signed(
  sec: string,
  payload: unknown,
  { id = nextId(), at = new Date() }: { id?: string; at?: Date } = {},
) {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(sec).sign(id, at, body),
    },
    body,
  };
}

interface Setup {
  rotate?: boolean;
  /** REKEY_PROVIDER unset: the provider followed now. */
  followed?: string;
  step?: () => StepOutcome;
  verify?: Partial<VerifyWebhookOptions>;
}

function setup({ rotate = false, step = () => STEP, verify = {}, followed }: Setup = {}) {
  const calls: Call[] = [];
  const deps: WebhookDeps = {
    provider: followed === undefined ? 'aws-kms' : '(the write provider)',
    ...(followed === undefined ? {} : { followedProvider: async () => followed }),
    step: fakeStep(calls, step),
    status: async () => {
      calls.push({ fn: 'status' });
      return STATUS;
    },
    ...(rotate
      ? {
          rotate: async () => {
            calls.push({ fn: 'rotate' });
            return ROTATED;
          },
        }
      : {}),
  };
  const { app } = testApp({ name: 'webhook' });
  mountWebhook(app, deps, { secrets: [OLD, NEW], claims: new MemoryReplayClaims(), ...verify });
  return { app, calls };
}

async function body(res: Response): Promise<Json> {
  return (await res.json()) as Json;
}

describe('webhook: commands', () => {
  it('signed {command: reconcile} => 200 with the step outcome; step ran once', async () => {
    const { app, calls } = setup();
    const res = await app.request('/webhook', signed(OLD, { command: 'reconcile' }));
    assert.equal(res.status, 200);
    assert.deepEqual(await body(res), { command: 'reconcile', outcome: STEP });
    assert.deepEqual(fns(calls), ['step']);
  });

  it('signed {command: reconcile, provider: <ours>} => 200', async () => {
    const { app, calls } = setup();
    const res = await app.request(
      '/webhook',
      signed(OLD, { command: 'reconcile', provider: 'aws-kms' }),
    );
    assert.equal(res.status, 200);
    assert.deepEqual(fns(calls), ['step']);
  });

  it('unpinned: a command naming the followed provider runs, one naming another is 422', async () => {
    const { app, calls } = setup({ followed: 'kms-b' });
    const ok = await app.request(
      '/webhook',
      signed(OLD, { command: 'reconcile', provider: 'kms-b' }),
    );
    assert.equal(ok.status, 200);
    const other = await app.request(
      '/webhook',
      signed(NEW, { command: 'reconcile', provider: 'kms-a' }),
    );
    assert.equal(other.status, 422);
    assert.match(String((await body(other)).message), /serves provider "kms-b", not "kms-a"/);
    assert.deepEqual(fns(calls), ['step']);
  });

  it('signed {command: status} => 200 with what status() reports, no step', async () => {
    const { app, calls } = setup();
    const res = await app.request('/webhook', signed(OLD, { command: 'status' }));
    assert.equal(res.status, 200);
    assert.deepEqual(await body(res), { command: 'status', status: STATUS });
    assert.deepEqual(fns(calls), ['status']);
  });

  it('signed {command: rotate} without a rotating KMS adapter => 422 saying so', async () => {
    const { app, calls } = setup();
    const res = await app.request('/webhook', signed(OLD, { command: 'rotate' }));
    assert.equal(res.status, 422);
    const b = await body(res);
    assert.equal(b.error, 'unprocessable');
    assert.equal(
      b.message,
      'rotate: no KMS adapter that can rotate is configured for provider "aws-kms"',
    );
    assert.deepEqual(calls, []);
  });

  it('signed {command: rotate} with a rotating KMS adapter => 200 with its result', async () => {
    const { app, calls } = setup({ rotate: true });
    const res = await app.request('/webhook', signed(OLD, { command: 'rotate' }));
    assert.equal(res.status, 200);
    assert.deepEqual(await body(res), { command: 'rotate', result: ROTATED });
    assert.deepEqual(fns(calls), ['rotate']);
  });

  it('a message signed with the second of two secrets is accepted (secret rotation)', async () => {
    const { app, calls } = setup();
    const res = await app.request('/webhook', signed(NEW, { command: 'reconcile' }));
    assert.equal(res.status, 200);
    assert.deepEqual(fns(calls), ['step']);
  });

  it('a signature header carrying a stale and a valid signature is accepted', async () => {
    const { app, calls } = setup();
    const req = signed(NEW, { command: 'status' });
    const stale = new Webhook(secret()).sign('x', new Date(), req.body);
    req.headers['webhook-signature'] = `${stale} ${req.headers['webhook-signature']}`;
    const res = await app.request('/webhook', req);
    assert.equal(res.status, 200);
    assert.deepEqual(fns(calls), ['status']);
  });
});

describe('webhook: forged, stale and replayed messages change nothing', () => {
  it('signed with a secret that is not configured => 401', async () => {
    const { app, calls } = setup();
    const res = await app.request('/webhook', signed(secret(), { command: 'reconcile' }));
    assert.equal(res.status, 401);
    assert.equal((await body(res)).error, 'unauthorized');
    assert.deepEqual(calls, []);
  });

  it('a body changed after signing => 401', async () => {
    const { app, calls } = setup({ rotate: true });
    const req = signed(OLD, { command: 'status' });
    req.body = JSON.stringify({ command: 'rotate' });
    const res = await app.request('/webhook', req);
    assert.equal(res.status, 401);
    assert.deepEqual(calls, []);
  });

  it('a webhook-id changed after signing => 401', async () => {
    const { app, calls } = setup();
    const req = signed(OLD, { command: 'reconcile' });
    req.headers['webhook-id'] = `${req.headers['webhook-id']}-2`;
    const res = await app.request('/webhook', req);
    assert.equal(res.status, 401);
    assert.deepEqual(calls, []);
  });

  for (const header of ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const) {
    it(`without ${header} => 401`, async () => {
      const { app, calls } = setup();
      const req = signed(OLD, { command: 'reconcile' });
      delete (req.headers as Record<string, string>)[header];
      const res = await app.request('/webhook', req);
      assert.equal(res.status, 401);
      assert.deepEqual(calls, []);
    });
  }

  it('a timestamp 10 minutes old (validly signed) => 401', async () => {
    const { app, calls } = setup();
    const at = new Date(Date.now() - 10 * 60_000);
    const res = await app.request('/webhook', signed(OLD, { command: 'reconcile' }, { at }));
    assert.equal(res.status, 401);
    assert.match(String((await body(res)).message), /too old/);
    assert.deepEqual(calls, []);
  });

  it('a timestamp 10 minutes in the future (validly signed) => 401', async () => {
    const { app, calls } = setup();
    const at = new Date(Date.now() + 10 * 60_000);
    const res = await app.request('/webhook', signed(OLD, { command: 'reconcile' }, { at }));
    assert.equal(res.status, 401);
    assert.deepEqual(calls, []);
  });

  it('a replay of a webhook-id after success => 200 {duplicate: true}; the command ran once', async () => {
    const { app, calls } = setup({ rotate: true });
    const req = signed(OLD, { command: 'rotate' }, { id: 'msg_replay_1' });
    const first = await app.request('/webhook', req);
    assert.equal(first.status, 200);
    assert.deepEqual(await body(first), { command: 'rotate', result: ROTATED });
    for (let i = 0; i < 3; i++) {
      const again = await app.request('/webhook', req);
      assert.equal(again.status, 200);
      assert.deepEqual(await body(again), {
        command: 'rotate',
        result: ROTATED,
        duplicate: true,
        id: 'msg_replay_1',
      });
    }
    assert.deepEqual(fns(calls), ['rotate']);
  });

  it('a replayed id with a different, validly signed body is still a duplicate (id is the key)', async () => {
    const { app, calls } = setup();
    const first = await app.request(
      '/webhook',
      signed(OLD, { command: 'reconcile' }, { id: 'msg_same' }),
    );
    assert.equal(first.status, 200);
    const second = await app.request(
      '/webhook',
      signed(NEW, { command: 'status' }, { id: 'msg_same' }),
    );
    assert.equal(second.status, 200);
    assert.equal((await body(second)).duplicate, true);
    assert.deepEqual(fns(calls), ['step']);
  });

  it('a forged replay (known id, bad signature) => 401, not a duplicate answer', async () => {
    const { app, calls } = setup();
    await app.request('/webhook', signed(OLD, { command: 'reconcile' }, { id: 'msg_known' }));
    const res = await app.request(
      '/webhook',
      signed(secret(), { command: 'reconcile' }, { id: 'msg_known' }),
    );
    assert.equal(res.status, 401);
    assert.deepEqual(fns(calls), ['step']);
  });

  it('a delivery that failed transiently (503) may be retried with the same id and runs again', async () => {
    let attempt = 0;
    const { app, calls } = setup({
      step: () => {
        if (attempt++ === 0) throw new TransientError('apiserver down', { retryAfterSeconds: 4 });
        return STEP;
      },
    });
    const req = signed(OLD, { command: 'reconcile' }, { id: 'msg_retry' });
    const first = await app.request('/webhook', req);
    assert.equal(first.status, 503);
    assert.equal(first.headers.get('Retry-After'), '4');
    const second = await app.request('/webhook', req);
    assert.equal(second.status, 200);
    assert.deepEqual(await body(second), { command: 'reconcile', outcome: STEP });
    const third = await app.request('/webhook', req);
    assert.deepEqual(await body(third), {
      command: 'reconcile',
      outcome: STEP,
      duplicate: true,
      id: 'msg_retry',
    });
    assert.deepEqual(fns(calls), ['step', 'step']);
  });

  it('a rejected command (422) is not remembered: the same id is rejected again, not "duplicate"', async () => {
    const { app, calls } = setup();
    const req = signed(OLD, { command: 'rotate' }, { id: 'msg_422' });
    assert.equal((await app.request('/webhook', req)).status, 422);
    assert.equal((await app.request('/webhook', req)).status, 422);
    assert.deepEqual(calls, []);
  });
});

describe('webhook: invalid commands', () => {
  const cases: [string, unknown, 400 | 422, RegExp][] = [
    [
      'an unknown command',
      { command: 'delete-everything' },
      422,
      /invalid webhook command: command/,
    ],
    ['no command', { provider: 'aws-kms' }, 422, /invalid webhook command/],
    ['a command that is not a string', { command: 1 }, 422, /invalid webhook command/],
    ['a JSON array', [{ command: 'reconcile' }], 422, /invalid webhook command/],
    ['JSON null', 'null', 422, /invalid webhook command/],
    ['an empty body', '', 422, /invalid webhook command/],
    ['an empty provider', { command: 'reconcile', provider: '' }, 422, /provider/],
    [
      'another provider',
      { command: 'reconcile', provider: 'gcp-kms' },
      422,
      /this rekey serves provider "aws-kms", not "gcp-kms"/,
    ],
    ['a body that is not JSON', '{"command":', 400, /not valid JSON/],
  ];
  for (const [what, payload, status, message] of cases) {
    it(`${what} => ${status}, nothing runs`, async () => {
      const { app, calls } = setup({ rotate: true });
      const res = await app.request('/webhook', signed(OLD, payload));
      assert.equal(res.status, status);
      assert.match(String((await body(res)).message), message);
      assert.deepEqual(calls, []);
    });
  }

  it('another provider with the rotate command does not rotate', async () => {
    const { app, calls } = setup({ rotate: true });
    const res = await app.request(
      '/webhook',
      signed(OLD, { command: 'rotate', provider: 'azure-kms' }),
    );
    assert.equal(res.status, 422);
    assert.deepEqual(calls, []);
  });
});

describe('webhook: step failures', () => {
  it('a step that throws a plain Error => 503 with Retry-After, without internals, and the id is not remembered', async () => {
    let attempt = 0;
    const { app, calls } = setup({
      step: () => {
        if (attempt++ === 0) throw new Error('etcd 10.0.0.3:2379 password=hunter2');
        return STEP;
      },
    });
    const req = signed(OLD, { command: 'reconcile' }, { id: 'msg_500' });
    const first = await app.request('/webhook', req);
    assert.equal(first.status, 503);
    assert.match(first.headers.get('Retry-After') ?? '', /^\d+$/);
    const text = await first.text();
    assert.equal(JSON.parse(text).error, 'unavailable');
    assert.ok(!text.includes('hunter2') && !text.includes('10.0.0.3'), text);
    assert.equal((await app.request('/webhook', req)).status, 200);
    assert.deepEqual(fns(calls), ['step', 'step']);
  });
});

const GCP_KEY = 'projects/p/locations/l/keyRings/r/cryptoKeys/k';
const AWS_KEY = 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

/** A port nothing listens on: the real Cloud KMS client gets UNAVAILABLE from google-gax. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** What google-gax rejects with: an Error with a numeric gRPC code and details. */
function gaxError(code: grpcStatus): Error {
  return Object.assign(new Error(`${code} ${grpcStatus[code]}: the server says why`), {
    code,
    details: 'the server says why',
    metadata: new Metadata(),
  });
}

/** What the AWS SDK rejects with for a KMS error answer. */
function awsError(name: string, httpStatusCode: number, message = name): KMSServiceException {
  return new KMSServiceException({
    name,
    $fault: 'client',
    $metadata: { httpStatusCode },
    message,
  });
}

/** A rotator whose KMS adapter fails with `err` (already translated at its boundary). */
function failingRotator(err: unknown, calls: string[]): KmsRotator {
  return {
    describe: 'test',
    rotate: async () => {
      calls.push('rotate');
      throw err;
    },
  };
}

/** The webhook function with `rotate` as shared/app composes it (rotate-then-step.ts). */
function webhookFunction(rotator: KmsRotator, calls: string[]) {
  const { app } = testApp({ name: 'webhook' });
  const step = async () => {
    calls.push('step');
    return STEP;
  };
  mountWebhook(
    app,
    { provider: 'aws-kms', step, status: async () => ({}), rotate: rotateThenStep(rotator, step) },
    { secrets: [OLD], claims: new MemoryReplayClaims() },
  );
  return app;
}

describe('webhook: rotate failures follow Knative retry rules', () => {
  it('a real GCP UNAVAILABLE (nothing listening) => 503 with Retry-After, nothing else runs', async () => {
    const calls: string[] = [];
    const gcp = createKmsRotator({ key: GCP_KEY, gcpEndpoint: `127.0.0.1:${await closedPort()}` });
    assert.ok(gcp);
    const rotator: KmsRotator = {
      describe: gcp.describe,
      rotate: () => {
        calls.push('rotate');
        return gcp.rotate();
      },
    };
    const res = await webhookFunction(rotator, calls).request(
      '/webhook',
      signed(OLD, { command: 'rotate' }),
    );
    const b = await body(res);
    assert.equal(res.status, 503, JSON.stringify(b));
    assert.equal(res.headers.get('Retry-After'), '5');
    assert.equal(b.error, 'unavailable');
    assert.equal(b.message, "rotate: the KMS answered UNAVAILABLE (its words are in rekey's log)");
    assert.deepEqual(calls, ['rotate']);
  });

  const retryable: [string, unknown][] = [
    [
      'GCP DEADLINE_EXCEEDED',
      toGcpKmsError(gaxError(grpcStatus.DEADLINE_EXCEEDED), 'CreateCryptoKeyVersion', GCP_KEY),
    ],
    ['AWS ThrottlingException', toAwsKmsError(awsError('ThrottlingException', 400), 'Rotate')],
  ];
  for (const [what, err] of retryable) {
    it(`${what} => 503 with Retry-After (Knative retries it)`, async () => {
      const calls: string[] = [];
      const app = webhookFunction(failingRotator(err, calls), calls);
      const res = await app.request('/webhook', signed(OLD, { command: 'rotate' }));
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('Retry-After'), '5');
      assert.equal((await body(res)).error, 'unavailable');
      assert.deepEqual(calls, ['rotate']);
    });
  }

  const permanent: [string, unknown][] = [
    [
      'GCP PERMISSION_DENIED',
      toGcpKmsError(gaxError(grpcStatus.PERMISSION_DENIED), 'CreateCryptoKeyVersion', GCP_KEY),
    ],
    ['AWS DisabledException', toAwsKmsError(awsError('DisabledException', 400), 'Rotate')],
  ];
  for (const [what, err] of permanent) {
    it(`${what} => 422 (a 4xx Knative does not retry), no Retry-After`, async () => {
      const calls: string[] = [];
      const app = webhookFunction(failingRotator(err, calls), calls);
      const res = await app.request('/webhook', signed(OLD, { command: 'rotate' }));
      assert.equal(res.status, 422);
      assert.equal(res.headers.get('Retry-After'), null);
      assert.equal((await body(res)).error, 'unprocessable');
      assert.deepEqual(calls, ['rotate']);
    });
  }

  it("a refused rotation's answer names the code, never the KMS's words (they name rekey's role)", async () => {
    const calls: string[] = [];
    const words =
      'User: arn:aws:sts::111122223333:assumed-role/rekey-webhook/i-0abc is not authorized to ' +
      'perform: kms:RotateKeyOnDemand on resource: arn:aws:kms:us-west-2:111122223333:key/1234abcd';
    const err = toAwsKmsError(awsError('AccessDeniedException', 400, words), 'RotateKeyOnDemand');
    const logged: unknown[] = [];
    const { app } = testApp({ name: 'webhook' });
    const step = async () => STEP;
    mountWebhook(
      app,
      {
        provider: 'aws-kms',
        step,
        status: async () => ({}),
        rotate: rotateThenStep(failingRotator(err, calls), step, {
          onRotateError: (e) => logged.push(e),
        }),
      },
      { secrets: [OLD], claims: new MemoryReplayClaims() },
    );
    const res = await app.request('/webhook', signed(OLD, { command: 'rotate' }));
    const text = await res.text();
    assert.equal(res.status, 422);
    assert.match(text, /the KMS answered AccessDeniedException/);
    assert.doesNotMatch(text, /arn:aws|111122223333|assumed-role/);
    assert.equal(logged.length, 1, 'the whole error goes to the log');
    assert.match(String((logged[0] as Error).message), /assumed-role\/rekey-webhook/);
  });

  it('a step that fails after a successful rotation still answers 200: a retry would rotate again', async () => {
    const calls: string[] = [];
    const rotator: KmsRotator = {
      describe: 'test',
      rotate: async () => {
        calls.push('rotate');
        return { key: AWS_KEY, current: 'material-3' };
      },
    };
    const { app } = testApp({ name: 'webhook' });
    mountWebhook(
      app,
      {
        provider: 'aws-kms',
        step: async () => STEP,
        status: async () => ({}),
        rotate: rotateThenStep(rotator, async () => {
          calls.push('step');
          throw new TransientError('Broker down', { retryAfterSeconds: 5 });
        }),
      },
      { secrets: [OLD], claims: new MemoryReplayClaims() },
    );
    const req = signed(OLD, { command: 'rotate' });
    const res = await app.request('/webhook', req);
    assert.equal(res.status, 200);
    const b = await body(res);
    assert.deepEqual(b.result, {
      key: AWS_KEY,
      current: 'material-3',
      step: {
        kind: 'not-run',
        reason: 'the step after the rotation failed; the next trigger or tick runs it',
      },
    });
    assert.equal((await app.request('/webhook', req)).status, 200, 'a replay is the record');
    assert.deepEqual(calls, ['rotate', 'step']);
  });

  it('a rotation that succeeds is followed by one step', async () => {
    const calls: string[] = [];
    const rotator: KmsRotator = {
      describe: 'test',
      rotate: async () => {
        calls.push('rotate');
        return { key: AWS_KEY, current: 'material-2' };
      },
    };
    const res = await webhookFunction(rotator, calls).request(
      '/webhook',
      signed(OLD, { command: 'rotate' }),
    );
    assert.equal(res.status, 200);
    assert.deepEqual(await body(res), {
      command: 'rotate',
      result: { key: AWS_KEY, current: 'material-2', step: STEP },
    });
    assert.deepEqual(calls, ['rotate', 'step']);
  });
});
