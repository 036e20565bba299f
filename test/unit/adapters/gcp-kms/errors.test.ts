// The GCP KMS adapter's error boundary: every gRPC status google-gax can report, errors without a
// status, and what the resulting error keeps (name, code, cause, operation, resource).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metadata, status } from '@grpc/grpc-js';
import {
  GcpKmsError,
  GcpKmsPermanentError,
  GcpKmsTransientError,
  isRetryableGrpcCode,
  toGcpKmsError,
} from '../../../../shared/adapters/gcp-kms/errors.ts';

const KEY = 'projects/p/locations/l/keyRings/r/cryptoKeys/k';

/** What google-gax rejects with for a gRPC failure: an Error with numeric code and details. */
function grpcError(code: status, details: string): Error {
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), {
    code,
    details,
    metadata: new Metadata(),
    note: '',
  });
}

describe('gRPC status -> GcpKms error class', () => {
  const cases: Array<[status, 'transient' | 'permanent']> = [
    [status.UNAVAILABLE, 'transient'],
    [status.DEADLINE_EXCEEDED, 'transient'],
    [status.RESOURCE_EXHAUSTED, 'transient'],
    [status.INTERNAL, 'transient'],
    [status.ABORTED, 'transient'],
    [status.CANCELLED, 'transient'],
    [status.UNKNOWN, 'transient'],
    [status.NOT_FOUND, 'permanent'],
    [status.PERMISSION_DENIED, 'permanent'],
    [status.INVALID_ARGUMENT, 'permanent'],
    [status.FAILED_PRECONDITION, 'permanent'],
    [status.UNAUTHENTICATED, 'permanent'],
    [status.ALREADY_EXISTS, 'permanent'],
    [status.OUT_OF_RANGE, 'permanent'],
    [status.UNIMPLEMENTED, 'permanent'],
    [status.DATA_LOSS, 'permanent'],
  ];
  for (const [code, kind] of cases) {
    it(`${status[code]} -> ${kind}`, () => {
      const cause = grpcError(code, 'the server says why');
      const err = toGcpKmsError(cause, 'GetCryptoKey', KEY);
      const Class = kind === 'transient' ? GcpKmsTransientError : GcpKmsPermanentError;
      assert.ok(err instanceof Class);
      assert.ok(err instanceof GcpKmsError);
      assert.equal(err.name, Class.name);
      assert.equal(err.code, status[code]);
      assert.equal(err.cause, cause);
      assert.equal(err.operation, 'GetCryptoKey');
      assert.equal(err.resource, KEY);
      assert.equal(isRetryableGrpcCode(code), kind === 'transient');
      assert.equal(err.retryable, kind === 'transient', 'declared for shared/ports/retryable.ts');
    });
  }
});

describe('toGcpKmsError messages and errors without a gRPC status', () => {
  it('says operation, resource, code and the server details', () => {
    const err = toGcpKmsError(
      grpcError(status.NOT_FOUND, `CryptoKey ${KEY} not found.`),
      'GetCryptoKey',
      KEY,
    );
    assert.equal(
      err.message,
      `Cloud KMS GetCryptoKey ${KEY}: NOT_FOUND: CryptoKey ${KEY} not found.`,
    );
  });

  it("clips gax's retry report (it appends every retried error) to one short line", () => {
    const long = `Total timeout exceeded\n${'Previous errors: 14 UNAVAILABLE '.repeat(50)}`;
    const cause = Object.assign(new Error(long), { code: status.DEADLINE_EXCEEDED });
    const err = toGcpKmsError(cause, 'Encrypt', KEY);
    assert.ok(err instanceof GcpKmsTransientError);
    assert.equal(err.code, 'DEADLINE_EXCEEDED');
    assert.ok(err.message.length < 450, `message is ${err.message.length} chars`);
    assert.doesNotMatch(err.message, /\n/);
    assert.ok(err.message.endsWith('...'));
  });

  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN']) {
    it(`a network error (${code}) below gRPC is transient`, () => {
      const cause = Object.assign(new Error(`connect ${code}`), { code });
      const err = toGcpKmsError(cause, 'GetCryptoKey', KEY);
      assert.ok(err instanceof GcpKmsTransientError);
      assert.equal(err.code, code);
    });
  }

  it('missing Application Default Credentials are permanent', () => {
    const cause = new Error(
      'Could not load the default credentials. Browse to https://cloud.google.com/docs/authentication/getting-started for more information.',
    );
    const err = toGcpKmsError(cause, 'GetCryptoKey', KEY);
    assert.ok(err instanceof GcpKmsPermanentError);
    assert.equal(err.code, 'UNKNOWN');
  });

  it('a thrown non-Error is permanent UNKNOWN, with its text', () => {
    const err = toGcpKmsError('boom', 'Decrypt', KEY);
    assert.ok(err instanceof GcpKmsPermanentError);
    assert.equal(err.code, 'UNKNOWN');
    assert.match(err.message, /boom$/);
  });

  it('a numeric code that is no gRPC status is not taken for one', () => {
    const err = toGcpKmsError(Object.assign(new Error('odd'), { code: 999 }), 'Decrypt', KEY);
    assert.ok(err instanceof GcpKmsPermanentError);
    assert.equal(err.code, 'UNKNOWN');
  });

  it('an error already translated passes through unchanged', () => {
    const first = toGcpKmsError(grpcError(status.UNAVAILABLE, 'down'), 'Encrypt', KEY);
    assert.equal(toGcpKmsError(first, 'rotateNow', KEY), first);
  });
});
