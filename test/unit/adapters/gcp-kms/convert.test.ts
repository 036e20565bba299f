// The GCP KMS adapter's pure helpers: protobuf Duration/Timestamp values as google-gax yields them,
// version names, and the local-endpoint client options.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { localKmsClientOptions } from '../../../../shared/adapters/gcp-kms/client.ts';
import {
  durationSeconds,
  splitVersionName,
  timestampIso,
  toTimestamp,
} from '../../../../shared/adapters/gcp-kms/convert.ts';

const KEY = 'projects/p/locations/europe-west1/keyRings/r/cryptoKeys/k';

describe('GCP KMS value conversions', () => {
  it('durations: longs as strings, numbers or Long-like objects; unset is undefined', () => {
    assert.equal(durationSeconds({ seconds: '7776000', nanos: 0 }), 7_776_000);
    assert.equal(durationSeconds({ seconds: 86_400 }), 86_400);
    assert.equal(durationSeconds({ seconds: { toString: () => '3600' } }), 3600);
    assert.equal(durationSeconds(null), undefined);
    assert.equal(durationSeconds(undefined), undefined);
  });

  it('timestamps round-trip through ISO 8601 at millisecond precision', () => {
    const iso = '2025-06-01T08:00:00.250Z';
    const ts = toTimestamp(iso);
    assert.deepEqual(ts, { seconds: 1_748_764_800, nanos: 250_000_000 });
    assert.equal(timestampIso({ seconds: String(ts.seconds), nanos: ts.nanos }), iso);
    assert.equal(timestampIso(null), undefined);
    assert.throws(() => toTimestamp('next tuesday'), TypeError);
  });

  it('a version name splits into its CryptoKey and id; anything else does not', () => {
    assert.deepEqual(splitVersionName(`${KEY}/cryptoKeyVersions/12`), {
      key: KEY,
      versionId: '12',
    });
    assert.equal(splitVersionName(KEY), undefined);
    assert.equal(splitVersionName(`${KEY}/cryptoKeyVersions/`), undefined);
  });
});

describe('localKmsClientOptions', () => {
  it('host:port -> apiEndpoint, port and insecure channel credentials', () => {
    const options = localKmsClientOptions('127.0.0.1:50051');
    assert.equal(options.apiEndpoint, '127.0.0.1');
    assert.equal(options.port, 50051);
    assert.ok(options.sslCreds, 'insecure sslCreds');
    assert.equal(options.sslCreds._isSecure(), false);
  });

  for (const bad of ['127.0.0.1', ':50051', 'localhost:0', 'localhost:70000', 'localhost:x']) {
    it(`rejects "${bad}"`, () => {
      assert.throws(() => localKmsClientOptions(bad), TypeError);
    });
  }
});
