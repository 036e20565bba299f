// CloudEvents intake through a real app: binary and structured mode accepted and validated,
// batch mode refused with 422, malformed events 400, oversize bodies 413, correlation ids logged.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createApp } from '../../../shared/http/app.ts';
import { readCloudEvent } from '../../../shared/http/cloudevent-intake.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { createMetrics } from '../../../shared/observability/metrics.ts';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

function setup({ maxBytes, maxBodyBytes }: { maxBytes?: number; maxBodyBytes?: number } = {}) {
  const lines: string[] = [];
  const logger = createLogger({
    name: 'test',
    level: 'debug',
    destination: { write: (s: string) => void lines.push(s) },
  });
  const metrics = createMetrics({ defaultMetrics: false });
  const app = createApp({
    name: 'kms-event',
    logger,
    metrics,
    readiness: async () => ({ ready: true, details: {} }),
    ...(maxBodyBytes === undefined ? {} : { maxBodyBytes }),
  });
  app.post('/kms-event', async (c) => {
    const event = await readCloudEvent(c, maxBytes === undefined ? {} : { maxBytes });
    return c.json({
      id: event.id,
      type: event.type,
      source: event.source,
      data: event.data,
      traceparent: c.get('traceparent') ?? null,
    });
  });
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { app, records, metrics };
}

const binaryHeaders = {
  'content-type': 'application/json',
  'ce-specversion': '1.0',
  'ce-id': 'evt-1',
  'ce-type': 'com.amazon.events.event',
  'ce-source': 'arn:aws:events:eu-west-1::rule/kms',
};

function structured(event: Record<string, unknown>, contentType = 'application/cloudevents+json') {
  return { method: 'POST', headers: { 'content-type': contentType }, body: JSON.stringify(event) };
}

const validStructured = {
  specversion: '1.0',
  id: 'evt-2',
  type: 'google.cloud.audit.log.v1.written',
  source: '//cloudaudit.googleapis.com/projects/p/logs/activity',
  datacontenttype: 'application/json',
  data: { protoPayload: { methodName: 'CreateCryptoKeyVersion' } },
};

async function errorOf(res: Response): Promise<{ error: string; message: string }> {
  return (await res.json()) as { error: string; message: string };
}

describe('readCloudEvent', () => {
  it('accepts a binary-mode event and parses its JSON data', async () => {
    const { app, records } = setup();
    const res = await app.request('/kms-event', {
      method: 'POST',
      headers: { ...binaryHeaders, traceparent: TRACEPARENT },
      body: JSON.stringify({ 'detail-type': 'KMS CMK Rotation' }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      id: 'evt-1',
      type: 'com.amazon.events.event',
      source: 'arn:aws:events:eu-west-1::rule/kms',
      data: { 'detail-type': 'KMS CMK Rotation' },
      traceparent: TRACEPARENT,
    });
    const line = records().find((r) => r.msg === 'request');
    assert.equal(line?.ceId, 'evt-1');
    assert.equal(line?.ceType, 'com.amazon.events.event');
    assert.equal(line?.traceparent, TRACEPARENT);
    assert.equal(line?.status, 200);
  });

  it('accepts a structured-mode event, with or without a charset, and takes its traceparent', async () => {
    const { app, records } = setup();
    for (const ct of [
      'application/cloudevents+json',
      'application/cloudevents+json; charset=utf-8',
    ]) {
      const res = await app.request(
        '/kms-event',
        structured({ ...validStructured, traceparent: TRACEPARENT }, ct),
      );
      assert.equal(res.status, 200, ct);
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(body.id, 'evt-2');
      assert.equal(body.type, 'google.cloud.audit.log.v1.written');
      assert.deepEqual(body.data, validStructured.data);
      assert.equal(body.traceparent, TRACEPARENT);
    }
    assert.ok(records().some((r) => r.msg === 'request' && r.ceId === 'evt-2'));
  });

  it('refuses batch mode with 422 and says why', async () => {
    const { app } = setup();
    const res = await app.request('/kms-event', {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      body: JSON.stringify([validStructured, validStructured]),
    });
    assert.equal(res.status, 422);
    const body = await errorOf(res);
    assert.equal(body.error, 'unprocessable');
    assert.match(body.message, /batch/);
  });

  const malformed: [string, RequestInit, RegExp][] = [
    [
      'no CloudEvent at all',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' },
      /not a CloudEvent|no cloud event/,
    ],
    [
      'binary mode without ce-type',
      { method: 'POST', headers: { ...binaryHeaders, 'ce-type': '' }, body: '{}' },
      /type/,
    ],
    [
      'binary mode without ce-source',
      { method: 'POST', headers: { ...binaryHeaders, 'ce-source': '' }, body: '{}' },
      /source/,
    ],
    [
      'binary JSON data that does not parse',
      { method: 'POST', headers: binaryHeaders, body: '{"a":' },
      /not valid JSON/,
    ],
    [
      'an unknown specversion',
      { method: 'POST', headers: { ...binaryHeaders, 'ce-specversion': '9.9' }, body: '{}' },
      /specversion/,
    ],
    [
      'an invalid extension name',
      { method: 'POST', headers: { ...binaryHeaders, 'ce-Bad_Name': 'x' }, body: '{}' },
      /attribute name|extension/,
    ],
    [
      'structured mode that is not JSON',
      { method: 'POST', headers: { 'content-type': 'application/cloudevents+json' }, body: 'nope' },
      /not valid JSON/,
    ],
    [
      'structured mode with a JSON array',
      structured([] as unknown as Record<string, unknown>),
      /JSON object/,
    ],
    [
      'structured mode with null',
      { method: 'POST', headers: { 'content-type': 'application/cloudevents+json' }, body: 'null' },
      /JSON object/,
    ],
    ['structured mode without an id', structured({ ...validStructured, id: undefined }), /'id'/],
    [
      'structured mode without a source',
      structured({ ...validStructured, source: undefined }),
      /source/,
    ],
  ];
  for (const [name, init, reason] of malformed) {
    it(`answers 400 to ${name}`, async () => {
      const { app } = setup();
      const res = await app.request('/kms-event', init);
      assert.equal(res.status, 400);
      const body = await errorOf(res);
      assert.equal(body.error, 'bad_request');
      assert.match(body.message, /^malformed CloudEvent: /);
      assert.match(body.message, reason);
      assert.doesNotMatch(body.message, /nope|"a":/, 'the body is not echoed back');
    });
  }

  it('answers 413 past maxBytes, whether or not a Content-Length is declared', async () => {
    const { app } = setup({ maxBytes: 64 });
    const big = JSON.stringify({ pad: 'x'.repeat(100) });
    const chunked = await app.request('/kms-event', {
      method: 'POST',
      headers: binaryHeaders,
      body: big,
    });
    assert.equal(chunked.status, 413);
    assert.equal((await errorOf(chunked)).error, 'payload_too_large');
    const declared = await app.request('/kms-event', {
      method: 'POST',
      headers: { ...binaryHeaders, 'content-length': String(Buffer.byteLength(big)) },
      body: big,
    });
    assert.equal(declared.status, 413);
  });

  it('accepts a body of exactly maxBytes', async () => {
    const { app } = setup({ maxBytes: 64 });
    const body = JSON.stringify({ pad: 'x'.repeat(64 - 10) });
    assert.equal(Buffer.byteLength(body), 64);
    const res = await app.request('/kms-event', { method: 'POST', headers: binaryHeaders, body });
    assert.equal(res.status, 200);
  });

  it('is also bounded by the app-wide body guard', async () => {
    const { app } = setup({ maxBodyBytes: 32 });
    const res = await app.request('/kms-event', {
      method: 'POST',
      headers: binaryHeaders,
      body: JSON.stringify({ pad: 'y'.repeat(64) }),
    });
    assert.equal(res.status, 413);
  });

  it('counts accepted and rejected events by type and outcome', async () => {
    const { app, metrics } = setup();
    await app.request('/kms-event', { method: 'POST', headers: binaryHeaders, body: '{}' });
    await app.request('/kms-event', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'x',
    });
    // An invalid event's ce-type is the sender's choice, not a label value.
    await app.request('/kms-event', {
      method: 'POST',
      headers: { ...binaryHeaders, 'ce-type': 'attacker.chosen', 'ce-source': '' },
      body: '{}',
    });
    const text = await metrics.render();
    assert.doesNotMatch(text, /attacker\.chosen/);
    assert.match(
      text,
      /rekey_events_received_total\{function="kms-event",type="com.amazon.events.event",outcome="handled"\} 1/,
    );
    assert.match(
      text,
      /rekey_events_received_total\{function="kms-event",type="invalid",outcome="rejected"\} 2/,
    );
  });
});
