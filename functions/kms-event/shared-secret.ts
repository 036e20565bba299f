// The shared secrets of kms-event's public paths (an EventBridge API destination, an Azure Event
// Grid subscription): both send one in the X-Rekey-Token header. Compared as fixed-length sha256
// digests with timingSafeEqual, so neither the length nor a prefix of the secret leaks in timing.
import { createHash, timingSafeEqual } from 'node:crypto';

export const TOKEN_HEADER = 'x-rekey-token';

/** Longer than any configured secret could usefully be: refused without hashing. */
const MAX_TOKEN_CHARS = 4096;

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** True when `sent` is exactly `expected`, in time independent of where they differ. */
export function sameSecret(sent: string | undefined, expected: string): boolean {
  if (sent === undefined || sent.length > MAX_TOKEN_CHARS) return false;
  return timingSafeEqual(digest(sent), digest(expected));
}
