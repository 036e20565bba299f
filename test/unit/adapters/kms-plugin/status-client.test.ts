// rekey's view of a KMS v2 plugin Status: the apiserver's validity rules and gRPC error mapping.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { status as grpcStatus, Metadata, type ServiceError } from '@grpc/grpc-js';
import {
  isHealthy,
  KmsPluginError,
  KmsPluginUnavailableError,
  statusProblems,
  toKmsPluginError,
} from '../../../../shared/adapters/kms-plugin/status-client.ts';

function serviceError(code: grpcStatus, details: string): ServiceError {
  return Object.assign(new Error(`${code} ${details}`), {
    code,
    details,
    metadata: new Metadata(),
  });
}

describe('KMS plugin Status validity', () => {
  const healthy = { version: 'v2', healthz: 'ok', keyId: 'local-1' };
  const cases: Array<[string, typeof healthy, boolean]> = [
    ['v2 ok', healthy, true],
    ['v2beta1', { ...healthy, version: 'v2beta1' }, true],
    ['v1', { ...healthy, version: 'v1' }, false],
    ['healthz not ok', { ...healthy, healthz: 'degraded' }, false],
    ['empty key_id', { ...healthy, keyId: '' }, false],
    ['1024-byte key_id', { ...healthy, keyId: 'k'.repeat(1024) }, true],
    ['1025-byte key_id', { ...healthy, keyId: 'k'.repeat(1025) }, false],
    ['multi-byte key_id over 1024 bytes', { ...healthy, keyId: 'é'.repeat(513) }, false],
  ];
  for (const [name, status, expected] of cases) {
    it(`${name} -> ${expected ? 'healthy' : 'unhealthy'}`, () => {
      assert.equal(isHealthy(status), expected);
      assert.equal(statusProblems(status).length === 0, expected);
    });
  }
});

describe('KMS plugin gRPC error mapping', () => {
  for (const code of [grpcStatus.UNAVAILABLE, grpcStatus.DEADLINE_EXCEEDED]) {
    it(`${grpcStatus[code]} is transient`, () => {
      const cause = serviceError(code, 'boom');
      const err = toKmsPluginError(cause, '/run/kms.sock');
      assert.ok(err instanceof KmsPluginUnavailableError);
      assert.equal(err.name, 'KmsPluginUnavailableError');
      assert.equal(err.retryable, true);
      assert.equal(err.code, grpcStatus[code]);
      assert.equal(err.cause, cause);
      assert.match(err.message, /\/run\/kms\.sock/);
    });
  }

  it('UNIMPLEMENTED is permanent', () => {
    const err = toKmsPluginError(serviceError(grpcStatus.UNIMPLEMENTED, 'no v2'), '/s');
    assert.ok(err instanceof KmsPluginError);
    assert.ok(!(err instanceof KmsPluginUnavailableError));
    assert.equal(err.name, 'KmsPluginError');
    assert.equal(err.retryable, false);
    assert.equal(err.code, 'UNIMPLEMENTED');
  });

  it('a non-gRPC failure keeps its cause', () => {
    const cause = new TypeError('bad');
    const err = toKmsPluginError(cause, '/s');
    assert.equal(err.code, 'UNKNOWN');
    assert.equal(err.cause, cause);
  });
});
