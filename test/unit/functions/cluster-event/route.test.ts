// Contract tests of the cluster-event function through app.request(): Knative ApiServerSource
// deliveries in Reference mode (binary and structured). A key-id report change in rekey's
// namespace runs a step; rekey's own revision writes start no work (no loop) but a deleted revision
// does; objects elsewhere are ignored (reports count in rekey's namespace, revisions in its state
// namespace); Resource mode is refused (422) without its data ever appearing in the answer or the
// log.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mountClusterEvent } from '../../../../functions/cluster-event/route.ts';
import type { StepOutcome } from '../../../../shared/core/reconcile-step.ts';
import { TransientError } from '../../../../shared/http/errors.ts';
import {
  type Call,
  cloudEventRequest,
  fakeStep,
  fixture,
  fns,
  type Json,
  MODES,
  stepOutcome,
  testApp,
} from '../../../support/unit/functions-fixtures.ts';

const NAMESPACE = 'rekey-system';
const STATE_NAMESPACE = 'rekey-state';
const STEP = stepOutcome(
  { kind: 'wait-convergence', reason: 'adopting', pending: ['apiserver-1'] },
  true,
);

/** Unless told, the state namespace is rekey's namespace (REKEY_STATE_NAMESPACE unset). */
function setup(step: () => StepOutcome = () => STEP, stateNamespace = NAMESPACE) {
  const calls: Call[] = [];
  const { app, lines } = testApp({ name: 'cluster-event' });
  mountClusterEvent(app, { namespace: NAMESPACE, stateNamespace, step: fakeStep(calls, step) });
  return { app, calls, lines };
}

/** The Reference-mode fixture with another operation and referenced object. */
function refEvent(
  op: string,
  ref: Partial<Record<'kind' | 'namespace' | 'name' | 'apiVersion', string | null>> = {},
): Json {
  const ev = fixture('apiserversource-ref-update-revision.json');
  ev.type = `dev.knative.apiserver.ref.${op}`;
  const data: Json = { ...(ev.data as Json), ...ref };
  for (const [k, v] of Object.entries(data)) if (v === null) delete data[k];
  ev.data = data;
  ev.subject = `/api/v1/namespaces/${String(data.namespace ?? '')}/${String(data.kind).toLowerCase()}s/${String(data.name)}`;
  return ev;
}

const REPORT = { kind: 'ConfigMap', name: 'key-id-report-node-a', apiVersion: 'v1' };

async function body(res: Response): Promise<Json> {
  return (await res.json()) as Json;
}

describe('cluster-event: Reference mode', () => {
  for (const mode of MODES) {
    for (const op of ['add', 'update', 'delete']) {
      it(`${op} of a key-id report ConfigMap in rekey's namespace (${mode}) => 200 stepped`, async () => {
        const { app, calls } = setup();
        const res = await app.request(
          '/cluster-event',
          cloudEventRequest(refEvent(op, REPORT), mode),
        );
        assert.equal(res.status, 200);
        assert.deepEqual(await body(res), { outcome: 'stepped', step: STEP });
        assert.deepEqual(fns(calls), ['step']);
      });
    }

    it(`the revision update fixture (${mode}) => 200 ignored as rekey's own write, no step`, async () => {
      const { app, calls } = setup();
      const res = await app.request(
        '/cluster-event',
        cloudEventRequest(fixture('apiserversource-ref-update-revision.json'), mode),
      );
      assert.equal(res.status, 200);
      const b = await body(res);
      assert.equal(b.outcome, 'ignored');
      assert.match(String(b.reason), /own write/);
      assert.deepEqual(calls, []);
    });

    it(`a revision add (${mode}) => ignored, no step`, async () => {
      const { app, calls } = setup();
      const res = await app.request('/cluster-event', cloudEventRequest(refEvent('add'), mode));
      assert.equal(res.status, 200);
      assert.equal((await body(res)).outcome, 'ignored');
      assert.deepEqual(calls, []);
    });

    it(`a revision delete (${mode}) => 200 stepped`, async () => {
      const { app, calls } = setup();
      const res = await app.request('/cluster-event', cloudEventRequest(refEvent('delete'), mode));
      assert.equal(res.status, 200);
      assert.deepEqual(await body(res), { outcome: 'stepped', step: STEP });
      assert.deepEqual(fns(calls), ['step']);
    });
  }

  const ignored: [string, Json][] = [
    [
      'a key-id report in another namespace',
      refEvent('update', { ...REPORT, namespace: 'default' }),
    ],
    ['a revision delete in another namespace', refEvent('delete', { namespace: 'kube-system' })],
    ['a cluster-scoped object (no namespace)', refEvent('update', { ...REPORT, namespace: null })],
    [
      'a ConfigMap that is not a key-id report',
      refEvent('update', { ...REPORT, name: 'kube-root-ca.crt' }),
    ],
    ['a Secret that is not a revision', refEvent('delete', { name: 'default-token-abcde' })],
    [
      'a revision-named object of another API group',
      refEvent('delete', { apiVersion: 'example.com/v1' }),
    ],
    [
      'a key-id-report-named Secret',
      refEvent('update', { kind: 'Secret', name: 'key-id-report-x' }),
    ],
  ];
  for (const [what, ev] of ignored) {
    it(`${what} => 200 ignored, no step`, async () => {
      for (const mode of MODES) {
        const { app, calls } = setup();
        const res = await app.request('/cluster-event', cloudEventRequest(ev, mode));
        assert.equal(res.status, 200, mode);
        const b = await body(res);
        assert.equal(b.outcome, 'ignored', `${mode}: ${JSON.stringify(b)}`);
        assert.equal(typeof b.reason, 'string');
        assert.deepEqual(calls, [], mode);
      }
    });
  }

  it('duplicate deliveries of a report change each run one (idempotent) step', async () => {
    const { app, calls } = setup();
    const ev = refEvent('update', REPORT);
    for (let i = 0; i < 3; i++) {
      const res = await app.request('/cluster-event', cloudEventRequest(ev, 'binary'));
      assert.equal(res.status, 200);
    }
    assert.deepEqual(fns(calls), ['step', 'step', 'step']);
  });
});

describe('cluster-event: revisions in a state namespace of their own (REKEY_STATE_NAMESPACE)', () => {
  const inState = (op: string) => refEvent(op, { namespace: STATE_NAMESPACE });
  const cases: [string, Json, 'stepped' | 'ignored', RegExp][] = [
    ['a revision delete in the state namespace', inState('delete'), 'stepped', /./],
    ['a revision update in the state namespace', inState('update'), 'ignored', /own write/],
    [
      "a revision delete in rekey's namespace",
      refEvent('delete'),
      'ignored',
      /not rekey's state namespace rekey-state/,
    ],
    ["a key-id report in rekey's namespace", refEvent('update', REPORT), 'stepped', /./],
    [
      'a key-id report in the state namespace',
      refEvent('update', { ...REPORT, namespace: STATE_NAMESPACE }),
      'ignored',
      /not rekey's namespace rekey-system/,
    ],
  ];
  for (const [what, ev, outcome, reason] of cases) {
    it(`${what} => 200 ${outcome}`, async () => {
      for (const mode of MODES) {
        const { app, calls } = setup(() => STEP, STATE_NAMESPACE);
        const res = await app.request('/cluster-event', cloudEventRequest(ev, mode));
        assert.equal(res.status, 200, mode);
        const b = await body(res);
        assert.equal(b.outcome, outcome, `${mode}: ${JSON.stringify(b)}`);
        if (outcome === 'ignored') assert.match(String(b.reason), reason);
        assert.deepEqual(fns(calls), outcome === 'stepped' ? ['step'] : [], mode);
      }
    });
  }
});

describe('cluster-event: Resource mode is refused without reading its data', () => {
  const SECRET_VALUES = [
    'ZmFrZS1rZXktaWQtZm9yLWEtZml4dHVyZQ==',
    'fake-key-id-for-a-fixture',
    '6c1a9e2f-4b7d-4e3a-8f5c-2d9b1e7a3c60',
    'rekey.dev/encryption-key-revision',
  ];

  for (const mode of MODES) {
    for (const op of ['add', 'update', 'delete']) {
      it(`dev.knative.apiserver.resource.${op} (${mode}) => 422, data never in the answer or log`, async () => {
        const { app, calls, lines } = setup();
        const ev = fixture('apiserversource-resource-mode.json');
        ev.type = `dev.knative.apiserver.resource.${op}`;
        const res = await app.request('/cluster-event', cloudEventRequest(ev, mode));
        assert.equal(res.status, 422);
        const text = await res.text();
        const b = JSON.parse(text) as Json;
        assert.equal(b.error, 'unprocessable');
        assert.match(String(b.message), /mode: Reference/);
        for (const v of SECRET_VALUES) {
          assert.ok(!text.includes(v), `the answer leaks ${v}`);
          for (const line of lines) assert.ok(!line.includes(v), `the log leaks ${v}: ${line}`);
        }
        assert.deepEqual(calls, []);
      });
    }
  }

  it('a Resource-mode event with data that is not even JSON is refused the same way (422)', async () => {
    const { app, calls } = setup();
    const ev = fixture('apiserversource-resource-mode.json');
    ev.data = 'c2VjcmV0LXZhbHVl-not-json';
    ev.datacontenttype = 'text/plain';
    const res = await app.request('/cluster-event', cloudEventRequest(ev, 'binary'));
    assert.equal(res.status, 422);
    assert.ok(!(await res.text()).includes('c2VjcmV0LXZhbHVl'));
    assert.deepEqual(calls, []);
  });
});

describe('cluster-event: malformed and foreign input', () => {
  const cases: [string, () => RequestInit, 400 | 422][] = [
    [
      'a type that is not an ApiServerSource type',
      () =>
        cloudEventRequest(
          { ...refEvent('update', REPORT), type: 'dev.knative.sources.ping' },
          'binary',
        ),
      422,
    ],
    [
      'an unknown Reference-mode operation',
      () => cloudEventRequest(refEvent('patch', REPORT), 'structured'),
      422,
    ],
    [
      'a reference without name',
      () => cloudEventRequest(refEvent('update', { ...REPORT, name: null }), 'structured'),
      422,
    ],
    [
      'a reference without kind',
      () => cloudEventRequest(refEvent('update', { ...REPORT, kind: null }), 'binary'),
      422,
    ],
    [
      'a reference that is not JSON',
      () => {
        const ev = refEvent('update', REPORT);
        ev.data = 'kind=ConfigMap';
        ev.datacontenttype = 'text/plain';
        return cloudEventRequest(ev, 'binary');
      },
      422,
    ],
    [
      'batch mode',
      () => ({
        method: 'POST',
        headers: { 'content-type': 'application/cloudevents-batch+json' },
        body: JSON.stringify([refEvent('update', REPORT)]),
      }),
      422,
    ],
    [
      'a plain JSON body (not a CloudEvent)',
      () => ({
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(REPORT),
      }),
      400,
    ],
    [
      'a structured body that is not JSON',
      () => ({
        method: 'POST',
        headers: { 'content-type': 'application/cloudevents+json' },
        body: '{',
      }),
      400,
    ],
  ];
  for (const [what, init, status] of cases) {
    it(`${what} => ${status}, no step`, async () => {
      const { app, calls } = setup();
      const res = await app.request('/cluster-event', init());
      assert.equal(res.status, status, await res.clone().text());
      assert.deepEqual(calls, []);
    });
  }

  it('a step that throws a TransientError => 503 with Retry-After', async () => {
    const { app, calls } = setup(() => {
      throw new TransientError('reconcile step failed; it will be retried', {
        retryAfterSeconds: 10,
      });
    });
    const res = await app.request(
      '/cluster-event',
      cloudEventRequest(refEvent('update', REPORT), 'binary'),
    );
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('Retry-After'), '10');
    assert.deepEqual(fns(calls), ['step']);
  });

  it('a step that throws a plain Error => 500 without internals', async () => {
    const { app } = setup(() => {
      throw new Error('etcd at 10.0.0.9:2379 refused');
    });
    const res = await app.request(
      '/cluster-event',
      cloudEventRequest(refEvent('delete'), 'structured'),
    );
    assert.equal(res.status, 500);
    assert.deepEqual(await body(res), { error: 'internal', message: 'internal error' });
  });

  it('a step answering busy is still 200 stepped', async () => {
    const busy: StepOutcome = { kind: 'busy', provider: 'aws-kms', heldBy: 'other-pod' };
    const { app } = setup(() => busy);
    const res = await app.request(
      '/cluster-event',
      cloudEventRequest(refEvent('update', REPORT), 'binary'),
    );
    assert.equal(res.status, 200);
    assert.deepEqual(await body(res), { outcome: 'stepped', step: busy });
  });
});
