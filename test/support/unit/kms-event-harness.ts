// The kms-event contract tests' shared harness: the expected trigger of every fixture, an app
// with recording fakes, and helpers to send raw EventBridge and API-destination events.
import assert from 'node:assert/strict';
import type { KmsEventDeps } from '../../../functions/kms-event/handler.ts';
import {
  type CloudEventsAuth,
  EVENTBRIDGE_TOKEN_HEADER,
  type KmsEventAuth,
  mountKmsEvent,
} from '../../../functions/kms-event/route.ts';
import type { NoteResult } from '../../../shared/core/note-kms-rotation.ts';
import type { StepOutcome } from '../../../shared/core/reconcile-step.ts';
import type { DangerCleared, DangerRecorded } from '../../../shared/core/record-key-danger.ts';
import type { DangerClearance } from '../../../shared/domain/key-danger.ts';
import type { KmsRotation } from '../../../shared/domain/kms-rotation.ts';
import type { KeyDangerNote } from '../../../shared/domain/revision.ts';
import {
  type Call,
  cloudEvent,
  fakeStep,
  fns,
  type Json,
  NOTED,
  stepOutcome,
  testApp,
} from './functions-fixtures.ts';

export const TOKEN = 'eb-shared-secret-0123456789abcdef';
export const AWS_KEY =
  'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
export const AWS_KEY_EU =
  'arn:aws:kms:eu-west-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321';
export const AWS_KEY_IMPORTED =
  'arn:aws:kms:eu-central-1:111122223333:key/5a6b7c8d-1e2f-3a4b-5c6d-7e8f9a0b1c2d';
export const OTHER_AWS_KEY =
  'arn:aws:kms:us-west-2:111122223333:key/ffffffff-0000-1111-2222-333333333333';
export const GCP_KEY =
  'projects/acme-platform-prod/locations/europe-west1/keyRings/k8s-etcd/cryptoKeys/etcd-kek';
export const AZURE_KEY = 'https://kv-acme-etcd.vault.azure.net/keys/etcd-kek';
export const MATERIAL_AUTO = '96083e4fb6dbc41d77578a213a6b6669c044dd4c143e96755396d2bf11fd6068';
export const MATERIAL_ON_DEMAND =
  'c1f0a8e3b57d42d9e6a1b0c3f4d5e6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d';
export const MATERIAL_BEFORE_AUTO =
  '123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0';

/** The rotation an AWS rotation event reports: the event form and the times vary per fixture. */
function aws(over: Partial<KmsRotation> & Pick<KmsRotation, 'at'>): KmsRotation {
  return { cloud: 'aws', key: AWS_KEY, via: 'aws-eventbridge', ...over };
}

const AUTOMATIC = aws({
  at: '2025-05-23T03:11:54.000Z',
  newMaterialId: MATERIAL_AUTO,
  previousMaterialId: MATERIAL_BEFORE_AUTO,
});
const ON_DEMAND = aws({
  key: AWS_KEY_EU,
  at: '2025-06-10T14:02:31.000Z',
  newMaterialId: MATERIAL_ON_DEMAND,
  previousMaterialId: MATERIAL_AUTO,
});
const gcp = (at: string): KmsRotation => ({
  cloud: 'gcp',
  key: GCP_KEY,
  at,
  via: 'gcp-audit-log',
  newMaterialId: '4',
});

export type Expected =
  | { outcome: 'rotation'; note: KmsRotation }
  | { outcome: 'danger'; danger: KeyDangerNote }
  | { outcome: 'danger-cleared'; clear: DangerClearance; leaves?: KeyDangerNote }
  | { outcome: 'reobserved' }
  | { outcome: 'ignored' };

/** Fixtures that are CloudEvents (TriggerMesh, Knative aws-sqs, SQS+SNS, Eventarc, Event Grid). */
export const CLOUD_EVENT_FIXTURES: Record<string, Expected> = {
  'ce-triggermesh-eventbridge.json': {
    outcome: 'rotation',
    note: AUTOMATIC,
  },
  'ce-knative-aws-sqs.json': { outcome: 'rotation', note: ON_DEMAND },
  'ce-knative-aws-sqs-sns.json': {
    outcome: 'danger',
    danger: {
      key: AWS_KEY,
      what: 'deletion-scheduled',
      at: '2025-02-21T09:29:40.000Z',
      via: 'aws-cloudtrail',
    },
  },
  'gcp-create-version.json': { outcome: 'rotation', note: gcp('2025-03-03T08:00:01.234Z') },
  'gcp-update-primary.json': { outcome: 'rotation', note: gcp('2025-03-03T08:00:02.051Z') },
  'gcp-update-crypto-key.json': { outcome: 'reobserved' },
  'gcp-destroy-version.json': {
    outcome: 'danger',
    danger: {
      key: GCP_KEY,
      what: 'version-destroyed',
      at: '2025-04-11T10:05:17.000Z',
      via: 'gcp-audit-log',
      version: '2',
    },
  },
  'gcp-disable-version.json': {
    outcome: 'danger',
    danger: {
      key: GCP_KEY,
      what: 'version-disabled',
      at: '2025-05-06T12:00:04.000Z',
      via: 'gcp-audit-log',
      version: '2',
    },
  },
  'gcp-enable-version.json': {
    outcome: 'danger-cleared',
    clear: {
      key: GCP_KEY,
      clears: ['version-disabled'],
      at: '2025-05-06T12:41:30.000Z',
      via: 'gcp-audit-log',
      by: 'UpdateCryptoKeyVersion',
      version: '2',
    },
  },
  'gcp-restore-version.json': {
    outcome: 'danger-cleared',
    clear: {
      key: GCP_KEY,
      clears: ['version-destroyed'],
      at: '2025-04-11T15:22:48.000Z',
      via: 'gcp-audit-log',
      by: 'RestoreCryptoKeyVersion',
      version: '2',
    },
    leaves: {
      key: GCP_KEY,
      what: 'version-disabled',
      at: '2025-04-11T15:22:48.000Z',
      via: 'gcp-audit-log',
      version: '2',
    },
  },
  'azure-key-new-version.json': {
    outcome: 'rotation',
    note: {
      cloud: 'azure',
      key: AZURE_KEY,
      at: '2025-03-14T09:26:53.541Z',
      via: 'azure-event-grid',
      newMaterialId: '876fd2a2b5ef4d1c9e0a4b6c2f8d7e31',
    },
  },
};

/** Fixtures that are raw EventBridge events (an API destination posts them as they are). */
export const RAW_FIXTURES: Record<string, Expected> = {
  'aws-cloudtrail-enable-key-rotation.json': { outcome: 'reobserved' },
  'aws-cloudtrail-disable-key.json': {
    outcome: 'danger',
    danger: {
      key: AWS_KEY,
      what: 'disabled',
      at: '2025-08-04T07:12:40.000Z',
      via: 'aws-cloudtrail',
    },
  },
  'aws-cloudtrail-enable-key.json': {
    outcome: 'danger-cleared',
    clear: {
      key: AWS_KEY,
      clears: ['disabled'],
      at: '2025-08-04T09:30:11.000Z',
      via: 'aws-cloudtrail',
      by: 'EnableKey',
    },
  },
  'aws-cloudtrail-cancel-key-deletion.json': {
    outcome: 'danger-cleared',
    clear: {
      key: AWS_KEY,
      clears: ['deletion-scheduled'],
      at: '2025-02-22T13:05:09.000Z',
      via: 'aws-cloudtrail',
      by: 'CancelKeyDeletion',
    },
    leaves: {
      key: AWS_KEY,
      what: 'disabled',
      at: '2025-02-22T13:05:09.000Z',
      via: 'aws-cloudtrail',
    },
  },
  'aws-cloudtrail-delete-expired-key-material.json': {
    outcome: 'danger',
    danger: {
      key: AWS_KEY_IMPORTED,
      what: 'material-expired',
      at: '2025-04-01T00:00:07.000Z',
      via: 'aws-cloudtrail',
    },
  },
  'aws-cloudtrail-rotate-key-on-demand.json': {
    outcome: 'rotation',
    note: aws({ at: '2025-06-10T14:02:28.000Z', via: 'aws-cloudtrail' }),
  },
  'aws-cloudtrail-rotate-key-service-event.json': {
    outcome: 'rotation',
    note: aws({ at: '2025-07-18T01:41:59.000Z', via: 'aws-cloudtrail' }),
  },
  'aws-cmk-deletion.json': {
    outcome: 'danger',
    danger: {
      key: AWS_KEY,
      what: 'deleted',
      at: '2025-02-28T09:30:00.000Z',
      via: 'aws-eventbridge',
    },
  },
  'aws-cmk-rotation-automatic.json': { outcome: 'rotation', note: AUTOMATIC },
  'aws-cmk-rotation-legacy.json': {
    outcome: 'rotation',
    note: aws({ at: '2022-11-02T17:45:12.000Z' }),
  },
  'aws-cmk-rotation-on-demand.json': { outcome: 'rotation', note: ON_DEMAND },
  'aws-imported-material-expiration.json': {
    outcome: 'danger',
    danger: {
      key: AWS_KEY_IMPORTED,
      what: 'material-expired',
      at: '2025-04-01T00:00:07.000Z',
      via: 'aws-eventbridge',
    },
  },
};

export const STEP = stepOutcome({ kind: 'migrate' }, true);

/** What the fake `clear` answers by default: one danger ended. */
export const CLEARED: DangerCleared = {
  revision: 'encryption-key-aws-kms-3',
  cleared: [{ what: 'disabled', at: '2025-01-01T00:00:00.000Z' }],
  stillActive: 0,
};

export const GRID_TOKEN = 'eg-shared-secret-fedcba9876543210';

export interface Setup {
  kmsKey?: string;
  /** Who may post CloudEvents on /kms-event (default `private`: the test app checks no tokens). */
  cloudEvents?: CloudEventsAuth;
  eventBridgeToken?: string | null;
  eventGridToken?: string | null;
  note?: NoteResult;
  danger?: DangerRecorded;
  cleared?: DangerCleared;
  step?: () => StepOutcome;
}

export function setup({
  kmsKey,
  cloudEvents = 'private',
  eventBridgeToken = TOKEN,
  eventGridToken = GRID_TOKEN,
  note = NOTED,
  danger,
  cleared,
  step,
}: Setup = {}) {
  const calls: Call[] = [];
  const deps: KmsEventDeps & KmsEventAuth = {
    provider: 'aws-kms',
    cloudEvents,
    ...(kmsKey === undefined ? {} : { kmsKey }),
    ...(eventBridgeToken === null ? {} : { eventBridgeToken }),
    ...(eventGridToken === null ? {} : { eventGridToken }),
    note: async (rotation) => {
      calls.push({ fn: 'note', arg: rotation });
      return note;
    },
    danger: async (d) => {
      calls.push({ fn: 'danger', arg: d });
      return danger ?? { revision: 'encryption-key-aws-kms-3' };
    },
    clear: async (c) => {
      calls.push({ fn: 'clear', arg: c });
      return cleared ?? CLEARED;
    },
    step: fakeStep(calls, step ?? STEP),
  };
  const { app, lines } = testApp({ name: 'kms-event' });
  mountKmsEvent(app, deps);
  return { app, calls, lines };
}

/** A raw EventBridge POST; `token: null` sends no token header. */
export function raw(body: string | Json, token: string | null = TOKEN) {
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === null ? {} : { [EVENTBRIDGE_TOKEN_HEADER]: token }),
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  };
}

/** A raw EventBridge event wrapped as an EventBridge API destination CloudEvent. */
export function apiDestination(ev: Json): Json {
  return cloudEvent('com.amazon.events.event', ev, {
    id: String(ev.id),
    source: 'arn:aws:events:us-west-2:111122223333:api-destination/rekey',
  });
}

export async function json(res: Response): Promise<Json> {
  return (await res.json()) as Json;
}

/** The response matches `expected` and exactly the expected calls were made. */
export async function assertAnswer(res: Response, calls: Call[], expected: Expected, what: string) {
  const body = await json(res);
  assert.equal(res.status, 200, `${what}: ${JSON.stringify(body)}`);
  assert.equal(body.outcome, expected.outcome, what);
  if (expected.outcome === 'ignored') {
    assert.deepEqual(calls, [], what);
    assert.equal(typeof body.reason, 'string', what);
    return;
  }
  assert.deepEqual(body.step, STEP, `${what}: the step outcome is returned`);
  if (expected.outcome === 'rotation') {
    assert.deepEqual(calls, [{ fn: 'note', arg: expected.note }, { fn: 'step' }], what);
    assert.equal(body.verdict, 'key-id-changed', what);
    assert.equal(body.explanation, NOTED.assessment?.explanation, what);
  } else if (expected.outcome === 'danger-cleared') {
    const leaves: Call[] = expected.leaves ? [{ fn: 'danger', arg: expected.leaves }] : [];
    assert.deepEqual(
      calls,
      [{ fn: 'clear', arg: expected.clear }, ...leaves, { fn: 'step' }],
      what,
    );
    assert.deepEqual(body.cleared, CLEARED.cleared, what);
  } else if (expected.outcome === 'danger') {
    assert.deepEqual(calls, [{ fn: 'danger', arg: expected.danger }, { fn: 'step' }], what);
    assert.equal(body.revision, 'encryption-key-aws-kms-3', what);
  } else {
    assert.deepEqual(fns(calls), ['step'], what);
  }
}
