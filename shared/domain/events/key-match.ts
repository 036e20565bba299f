// Does a KMS event's key name the key behind our provider? Each cloud names a key several ways;
// we match the forms that identify one key without a lookup (aliases would need the KMS API).
import type { KmsCloud } from './kms-trigger.ts';

function awsKeyId(s: string): string | undefined {
  const m = /^arn:aws[\w-]*:kms:[^:]*:\d*:key\/([0-9a-fA-F-]+|mrk-[0-9a-fA-F]+)$/.exec(s);
  if (m) return m[1]?.toLowerCase();
  return /^([0-9a-fA-F-]{36}|mrk-[0-9a-fA-F]+)$/.test(s) ? s.toLowerCase() : undefined;
}

/** True when `configured` (REKEY_KMS_KEY) and the event's `eventKey` are the same key. */
export function sameKey(cloud: KmsCloud, configured: string, eventKey: string): boolean {
  if (configured === eventKey) return true;
  if (cloud === 'aws') {
    const a = awsKeyId(configured);
    return a !== undefined && a === awsKeyId(eventKey);
  }
  if (cloud === 'azure') {
    const norm = (u: string) => u.replace(/\/+$/, '').toLowerCase();
    return norm(configured) === norm(eventKey);
  }
  // GCP: a CryptoKey name, or a version of it
  return (
    eventKey.replace(/\/cryptoKeyVersions\/[^/]+$/, '') ===
    configured.replace(/\/cryptoKeyVersions\/[^/]+$/, '')
  );
}
