// The AWS KMS boundary's error mapping: SDK errors by name, network code and HTTP status become
// AwsKmsTransientError or AwsKmsPermanentError, keeping the SDK error as `cause`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DependencyTimeoutException,
  DisabledException,
  KMSInternalException,
  KMSInvalidStateException,
  KMSServiceException,
  NotFoundException,
  UnsupportedOperationException,
} from '@aws-sdk/client-kms';
import {
  AwsKmsError,
  AwsKmsPermanentError,
  AwsKmsTransientError,
  toAwsKmsError,
} from '../../../../shared/adapters/aws-kms/errors.ts';

const meta = (httpStatusCode: number) => ({ httpStatusCode, requestId: 'req-1', attempts: 1 });

/** An error as the SDK raises for an error type it has no class for. */
function serviceError(name: string, status: number, fault: 'client' | 'server' = 'client') {
  return new KMSServiceException({ name, $fault: fault, $metadata: meta(status), message: name });
}

function networkError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code });
}

type Case = [what: string, err: unknown, transient: boolean, code: string];

const cases: Case[] = [
  [
    'NotFoundException',
    new NotFoundException({ message: 'no key', $metadata: meta(400) }),
    false,
    'NotFoundException',
  ],
  [
    'DisabledException',
    new DisabledException({ message: 'disabled', $metadata: meta(400) }),
    false,
    'DisabledException',
  ],
  [
    'KMSInvalidStateException',
    new KMSInvalidStateException({ message: 'pending deletion', $metadata: meta(400) }),
    false,
    'KMSInvalidStateException',
  ],
  [
    'AccessDeniedException',
    serviceError('AccessDeniedException', 400),
    false,
    'AccessDeniedException',
  ],
  ['AccessDenied (403)', serviceError('AccessDenied', 403), false, 'AccessDenied'],
  ['ValidationException', serviceError('ValidationException', 400), false, 'ValidationException'],
  [
    'UnsupportedOperationException',
    new UnsupportedOperationException({ message: 'asymmetric', $metadata: meta(400) }),
    false,
    'UnsupportedOperationException',
  ],
  [
    'LimitExceededException (a quota)',
    serviceError('LimitExceededException', 400),
    false,
    'LimitExceededException',
  ],
  ['an unknown 4xx', serviceError('SomethingNewException', 400), false, 'SomethingNewException'],
  [
    'ThrottlingException (400)',
    serviceError('ThrottlingException', 400),
    true,
    'ThrottlingException',
  ],
  [
    'KMSInternalException',
    new KMSInternalException({ message: 'oops', $metadata: meta(500) }),
    true,
    'KMSInternalException',
  ],
  [
    'DependencyTimeoutException',
    new DependencyTimeoutException({ message: 'slow', $metadata: meta(503) }),
    true,
    'DependencyTimeoutException',
  ],
  [
    'ConflictException (rotation running)',
    serviceError('ConflictException', 400),
    true,
    'ConflictException',
  ],
  ['an unknown 5xx', serviceError('SomethingBroke', 502, 'server'), true, 'SomethingBroke'],
  ['an unnamed 429', { $metadata: { httpStatusCode: 429 } }, true, 'HTTP429'],
  ['an unnamed 503', { $metadata: { httpStatusCode: 503 } }, true, 'HTTP503'],
  ['ECONNREFUSED', networkError('ECONNREFUSED'), true, 'ECONNREFUSED'],
  ['ECONNRESET', networkError('ECONNRESET'), true, 'ECONNRESET'],
  ['EAI_AGAIN (DNS)', networkError('EAI_AGAIN'), true, 'EAI_AGAIN'],
  [
    'an SDK request timeout',
    Object.assign(new Error('Connection timed out after 10000 ms'), { name: 'TimeoutError' }),
    true,
    'TimeoutError',
  ],
  [
    'no credentials in the chain',
    Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    }),
    false,
    'CredentialsProviderError',
  ],
  ['a missing region (plain Error)', new Error('Region is missing'), false, 'Unknown'],
  ['a programming error', new TypeError('x is not a function'), false, 'TypeError'],
  ['a thrown string', 'boom', false, 'Unknown'],
];

describe('toAwsKmsError', () => {
  for (const [what, err, transient, code] of cases) {
    it(`${what} -> ${transient ? 'transient' : 'permanent'} ${code}`, () => {
      const mapped = toAwsKmsError(err, 'DescribeKey');
      assert.ok(mapped instanceof AwsKmsError);
      assert.ok(mapped instanceof (transient ? AwsKmsTransientError : AwsKmsPermanentError));
      assert.equal(mapped.name, transient ? 'AwsKmsTransientError' : 'AwsKmsPermanentError');
      assert.equal(mapped.retryable, transient);
      assert.equal(mapped.code, code);
      assert.equal(mapped.operation, 'DescribeKey');
      assert.equal(mapped.cause, err);
      assert.match(mapped.message, new RegExp(`^AWS KMS DescribeKey: ${code}`));
    });
  }

  it('keeps the HTTP status and request id of an SDK error', () => {
    const mapped = toAwsKmsError(
      new NotFoundException({ message: "Key 'k' does not exist", $metadata: meta(400) }),
      'Encrypt',
    );
    assert.equal(mapped.httpStatusCode, 400);
    assert.equal(mapped.requestId, 'req-1');
    assert.equal(mapped.message, "AWS KMS Encrypt: NotFoundException: Key 'k' does not exist");
  });

  it('passes an already mapped error through unchanged', () => {
    const first = toAwsKmsError(serviceError('ThrottlingException', 400), 'Decrypt');
    assert.equal(toAwsKmsError(first, 'DescribeKey'), first);
  });
});
