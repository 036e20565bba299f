// parseApiServerSourceEvent: Reference-mode events about revision Secrets and key-id report
// ConfigMaps, everything else `other`; Resource mode rejected without echoing Secret data.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseApiServerSourceEvent } from '../../../../shared/domain/events/apiserver-source.ts';

type Json = Record<string, unknown>;

function fixture(name: string): Json {
  return JSON.parse(
    readFileSync(new URL(`../../../fixtures/events/${name}`, import.meta.url), 'utf8'),
  );
}

const ref = fixture('apiserversource-ref-update-revision.json') as { type: string; data: Json };

function event(op: string, data: Json) {
  return { type: `dev.knative.apiserver.ref.${op}`, source: 'https://10.96.0.1:443', data };
}

function errorOf(result: unknown): string {
  assert.ok(
    typeof result === 'object' && result !== null && 'error' in result,
    'expected an error',
  );
  return String(result.error);
}

describe('parseApiServerSourceEvent', () => {
  it('reads a Reference-mode update of a revision Secret', () => {
    assert.deepEqual(parseApiServerSourceEvent(ref), {
      kind: 'revision-changed',
      namespace: 'rekey-system',
      name: 'encryption-key-aws-kms-3',
      op: 'update',
    });
  });

  it('tells key-id reports and other objects apart, for every op', () => {
    const cm = { kind: 'ConfigMap', apiVersion: 'v1', namespace: 'rekey-system' };
    const secret = { kind: 'Secret', apiVersion: 'v1', namespace: 'rekey-system' };
    const cases: [string, Json, string][] = [
      ['add', { ...cm, name: 'key-id-report-cp-1-aws-kms' }, 'report-changed'],
      ['delete', { ...cm, name: 'key-id-report-cp-2-aws-kms' }, 'report-changed'],
      ['add', { ...cm, name: 'encryption-key-aws-kms-4' }, 'other'],
      ['update', { ...secret, name: 'db-password' }, 'other'],
      ['update', { ...secret, name: 'encryption-key-aws-kms' }, 'other'],
      ['delete', { ...secret, name: 'encryption-key-aws-kms-12' }, 'revision-changed'],
      ['add', { ...secret, apiVersion: 'example.dev/v1', name: 'encryption-key-a-1' }, 'other'],
    ];
    for (const [op, data, kind] of cases) {
      assert.deepEqual(parseApiServerSourceEvent(event(op, data)), {
        kind,
        namespace: 'rekey-system',
        name: data.name,
        op,
      });
    }
  });

  it('gives a cluster-scoped object an empty namespace, and reads data as JSON text', () => {
    const ns = { kind: 'Namespace', apiVersion: 'v1', name: 'rekey-system' };
    assert.deepEqual(parseApiServerSourceEvent(event('add', ns)), {
      kind: 'other',
      namespace: '',
      name: 'rekey-system',
      op: 'add',
    });
    assert.deepEqual(
      parseApiServerSourceEvent({ ...ref, data: JSON.stringify(ref.data) }),
      parseApiServerSourceEvent(ref),
    );
  });

  it('rejects Resource mode and never echoes the Secret data', () => {
    const resource = fixture('apiserversource-resource-mode.json') as { type: string; data: Json };
    const message = errorOf(parseApiServerSourceEvent(resource));
    assert.match(message, /Resource mode/);
    assert.match(message, /mode: Reference/);
    const secretValue = (resource.data.data as { keyId: string }).keyId;
    assert.equal(message.includes(secretValue), false);
    for (const op of ['add', 'delete']) {
      const t = { ...resource, type: `dev.knative.apiserver.resource.${op}` };
      assert.match(errorOf(parseApiServerSourceEvent(t)), /Resource mode/);
    }
  });

  it('returns { error } for other types and malformed references, never throwing', () => {
    const cases: [{ type: string; data: unknown }, RegExp][] = [
      [{ ...ref, type: 'dev.knative.apiserver.ref.patch' }, /Reference-mode type/],
      [{ ...ref, type: 'dev.knative.apiserver.ref.' }, /Reference-mode type/],
      [{ ...ref, type: 'dev.knative.sources.ping' }, /Reference-mode type/],
      [{ ...ref, data: 'kind=Secret' }, /not JSON/],
      [{ ...ref, data: null }, /malformed ApiServerSource reference/],
      [{ ...ref, data: { ...ref.data, name: undefined } }, /name/],
      [{ ...ref, data: { ...ref.data, kind: 3 } }, /kind/],
      [{ ...ref, data: { ...ref.data, apiVersion: '' } }, /apiVersion/],
    ];
    for (const [input, message] of cases) {
      assert.match(errorOf(parseApiServerSourceEvent(input)), message);
    }
  });
});
