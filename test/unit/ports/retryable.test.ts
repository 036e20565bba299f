// The one retry vocabulary (shared/ports/retryable.ts): the contract and its status table, every
// adapter error declaring it, and the slice engine retrying a list exactly when a patch would be
// retried (408 used to be retried for patches and fatal for lists).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KMSServiceException } from '@aws-sdk/client-kms';
import { Metadata, status } from '@grpc/grpc-js';
import { toAwsKmsError } from '../../../shared/adapters/aws-kms/errors.ts';
import { toGcpKmsError } from '../../../shared/adapters/gcp-kms/errors.ts';
import { ListError } from '../../../shared/adapters/k8s/object-rewriter.ts';
import { KubeApiError } from '../../../shared/adapters/k8s/typed-api.ts';
import { toKmsPluginError } from '../../../shared/adapters/kms-plugin/status-client.ts';
import { migrateSlice } from '../../../shared/core/migrate-slice.ts';
import { startCheckpoint } from '../../../shared/domain/checkpoint.ts';
import { classifyPatch } from '../../../shared/domain/rewrite-outcome.ts';
import { PermanentError, TransientError } from '../../../shared/http/errors.ts';
import type { ListPage, ObjectRewriter } from '../../../shared/ports/object-rewriter.ts';
import {
  failedDependency,
  isRetryable,
  isRetryableStatus,
  RETRYABLE_STATUSES,
  retryAfterOf,
} from '../../../shared/ports/retryable.ts';

const KEY = 'projects/p/locations/l/keyRings/r/cryptoKeys/k';

function grpcError(code: status): Error {
  return Object.assign(new Error(`${code} ${status[code]}: why`), {
    code,
    details: 'why',
    metadata: new Metadata(),
  });
}

function awsError(name: string, httpStatusCode: number): KMSServiceException {
  return new KMSServiceException({
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
    message: name,
  });
}

describe('the Retryable contract', () => {
  it('is retryable only when an object declares retryable: true', () => {
    assert.equal(isRetryable({ retryable: true }), true);
    for (const no of [
      { retryable: false },
      { retryable: 'true' },
      { retryable: 1 },
      { transient: true },
      { status: 503 },
      new Error('ECONNRESET'),
      'retryable',
      null,
      undefined,
    ]) {
      assert.equal(isRetryable(no), false, JSON.stringify(no));
    }
  });

  it('reads Retry-After only from a retryable error, and only a usable one', () => {
    assert.equal(retryAfterOf({ retryable: true, retryAfterSeconds: 3 }), 3);
    assert.equal(retryAfterOf({ retryable: true, retryAfterSeconds: 0 }), 0);
    assert.equal(retryAfterOf({ retryable: true }), undefined);
    assert.equal(retryAfterOf({ retryable: true, retryAfterSeconds: -1 }), undefined);
    assert.equal(retryAfterOf({ retryable: true, retryAfterSeconds: Number.NaN }), undefined);
    assert.equal(retryAfterOf({ retryable: false, retryAfterSeconds: 3 }), undefined);
  });

  it('has one table of retryable statuses, no answer at all included', () => {
    assert.deepEqual([...RETRYABLE_STATUSES], [401, 408, 429, 500, 502, 503, 504]);
    for (const s of [0, ...RETRYABLE_STATUSES]) assert.equal(isRetryableStatus(s), true, `${s}`);
    for (const s of [200, 400, 403, 404, 409, 410, 422, 501, 505]) {
      assert.equal(isRetryableStatus(s), false, `${s}`);
    }
  });

  it('patches are retried on exactly the table (408 included)', () => {
    for (const s of [0, 400, 401, 403, 408, 422, 429, 500, 501, 502, 503, 504]) {
      const outcome = classifyPatch({ ok: false, status: s }, { random: () => 0 });
      assert.equal(typeof outcome === 'object' && 'retry' in outcome, isRetryableStatus(s), `${s}`);
    }
  });
});

describe('every adapter error declares whether a retry may succeed', () => {
  const cases: [string, unknown, boolean][] = [
    ['http TransientError', new TransientError('busy'), true],
    ['http PermanentError', new PermanentError('bad'), false],
    ['AWS throttling', toAwsKmsError(awsError('ThrottlingException', 400), 'Op'), true],
    ['AWS NotFoundException', toAwsKmsError(awsError('NotFoundException', 400), 'Op'), false],
    ['AWS unnamed 408', toAwsKmsError({ $metadata: { httpStatusCode: 408 } }, 'Op'), true],
    ['AWS unnamed 501', toAwsKmsError({ $metadata: { httpStatusCode: 501 } }, 'Op'), false],
    ['GCP UNAVAILABLE', toGcpKmsError(grpcError(status.UNAVAILABLE), 'Op', KEY), true],
    ['GCP NOT_FOUND', toGcpKmsError(grpcError(status.NOT_FOUND), 'Op', KEY), false],
    ['KMS plugin UNAVAILABLE', toKmsPluginError(grpcError(status.UNAVAILABLE), '/s'), true],
    ['KMS plugin UNIMPLEMENTED', toKmsPluginError(grpcError(status.UNIMPLEMENTED), '/s'), false],
    ['k8s API 503', new KubeApiError(503, '', 'GET /x'), true],
    ['k8s API no answer', new KubeApiError(0, 'ECONNREFUSED', 'GET /x'), true],
    ['k8s API 403', new KubeApiError(403, '', 'GET /x'), false],
    // a projected ServiceAccount token rotating: the client reloads it, the next attempt passes
    ['k8s API 401', new KubeApiError(401, '', 'GET /x'), true],
    ['AWS unnamed 401', toAwsKmsError({ $metadata: { httpStatusCode: 401 } }, 'Op'), true],
    ['k8s list 408', new ListError('list secrets: HTTP 408', 408), true],
    ['k8s list 410', new ListError('list secrets: HTTP 410', 410), false],
  ];
  for (const [what, err, retryable] of cases) {
    it(`${what}: retryable ${retryable}`, () => {
      assert.equal((err as { retryable?: unknown }).retryable, retryable);
      assert.equal(isRetryable(err), retryable);
    });
  }

  it("keeps the apiserver's Retry-After", () => {
    assert.equal(retryAfterOf(new KubeApiError(429, '', 'GET /x', 7)), 7);
    assert.equal(retryAfterOf(new ListError('list: HTTP 429', 429, 2)), 2);
  });
});

/** A rewriter whose lists fail with `failures` in turn, then return one empty last page. */
function failingLists(failures: unknown[]): ObjectRewriter & { lists: number } {
  const r = {
    lists: 0,
    async listPage(): Promise<ListPage> {
      const failure = failures[r.lists++];
      if (failure !== undefined) throw failure;
      return { items: [] };
    },
    noOpPatch: () => Promise.reject(new Error('no objects to patch')),
    forcedPatch: () => Promise.reject(new Error('no objects to patch')),
  };
  return r;
}

function slice(rewriter: ObjectRewriter, sleeps: number[]) {
  return migrateSlice({
    rewriter,
    checkpoint: startCheckpoint('secrets'),
    failures: [],
    clock: { now: () => new Date(0) },
    deadline: Number.POSITIVE_INFINITY,
    random: () => 0,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    onPage: async () => true,
  });
}

describe('the slice engine retries a list by the contract', () => {
  it('retries a 408 list, as it retries a 408 patch', async () => {
    const rewriter = failingLists([new ListError('list secrets: HTTP 408', 408)]);
    const r = await slice(rewriter, []);
    assert.equal(r.stoppedBy, 'done');
    assert.equal(rewriter.lists, 2);
  });

  it("waits at least the apiserver's Retry-After", async () => {
    const sleeps: number[] = [];
    const rewriter = failingLists([new ListError('list secrets: HTTP 429', 429, 3)]);
    await slice(rewriter, sleeps);
    assert.equal(sleeps.length, 1);
    assert.ok((sleeps[0] ?? 0) >= 3000, `slept ${sleeps[0]} ms`);
  });

  for (const [what, err] of [
    ['a 403 list', new ListError('list secrets: HTTP 403', 403)],
    ['an error that declares nothing', new Error('unknown resource widgets')],
  ] as const) {
    it(`does not retry ${what}`, async () => {
      const rewriter = failingLists([err]);
      await assert.rejects(slice(rewriter, []), (e) => e === err);
      assert.equal(rewriter.lists, 1);
    });
  }
});

describe('failedDependency: a dependency failed, whatever client raised it', () => {
  const network = (code: string) =>
    Object.assign(new Error(`connect ${code} 10.0.0.1:6443`), { code });
  type Case = readonly [
    string,
    unknown,
    { retryable: boolean; retryAfterSeconds?: number } | undefined,
  ];
  const cases: readonly Case[] = [
    [
      'an adapter error declaring the contract',
      new KubeApiError(503, '', 'GET /x', 4),
      {
        retryable: true,
        retryAfterSeconds: 4,
      },
    ],
    [
      'an adapter error declaring it permanent',
      new KubeApiError(403, '', 'GET /x'),
      {
        retryable: false,
      },
    ],
    ...['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPROTO'].map(
      (code) => [`a Node ${code}`, network(code), { retryable: true }] as const,
    ),
    ...['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED'].map(
      (code) => [`a TLS failure ${code}`, network(code), { retryable: true }] as const,
    ),
    [
      "fetch's TypeError('fetch failed') with its cause",
      new TypeError('fetch failed', { cause: network('ECONNREFUSED') }),
      { retryable: true },
    ],
    ['a fetch timeout', new DOMException('timed out', 'TimeoutError'), { retryable: true }],
    [
      "client-node's ApiException (code + body + headers)",
      Object.assign(new Error('HTTP-Code: 503'), {
        code: 503,
        body: '{}',
        headers: { 'retry-after': '45' },
      }),
      { retryable: true, retryAfterSeconds: 45 },
    ],
    [
      "client-node's ApiException for a 401 (token rotating)",
      Object.assign(new Error('HTTP-Code: 401'), { code: 401, body: '', headers: {} }),
      { retryable: true },
    ],
    ['an AWS SDK error', awsError('InternalFailure', 500), { retryable: true }],
    ['a raw gRPC UNAVAILABLE (etcd, GCP)', grpcError(status.UNAVAILABLE), { retryable: true }],
    ['a raw gRPC PERMISSION_DENIED', grpcError(status.PERMISSION_DENIED), { retryable: false }],
    [
      'a wrapper whose cause is an adapter error',
      new Error('could not record the danger', { cause: new KubeApiError(0, '', 'PUT /x') }),
      { retryable: true },
    ],
    [
      'a programming error',
      new TypeError("Cannot read properties of undefined (reading 'x')"),
      undefined,
    ],
    ['a message that merely names a code', new Error('ECONNREFUSED 10.0.0.7:2379'), undefined],
    ['not an error', 'ECONNREFUSED', undefined],
    ['nothing', undefined, undefined],
  ];
  for (const [what, err, want] of cases) {
    it(`${what}: ${want === undefined ? 'not a dependency' : `retryable ${want.retryable}`}`, () => {
      const got = failedDependency(err);
      if (want === undefined) return assert.equal(got, undefined);
      assert.deepEqual(got, { retryAfterSeconds: undefined, ...want });
    });
  }

  it("recognises etcd3's error classes (they set no name)", async () => {
    const { GRPCUnavailableError, GRPCDeadlineExceededError } = await import('etcd3');
    for (const E of [GRPCUnavailableError, GRPCDeadlineExceededError]) {
      assert.equal(failedDependency(new E('etcd down'))?.retryable, true, E.name);
    }
  });

  it('ends on a cycle of causes', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    a.cause = new Error('b', { cause: a });
    assert.equal(failedDependency(a), undefined);
  });
});
