// Cloud KMS resource names, parsed the way the service validates them: a malformed name is
// INVALID_ARGUMENT, never NOT_FOUND.
import { status } from '@grpc/grpc-js';
import { RpcError } from './rpc-error.ts';

const SEGMENT = '[^/]+';
const ID = /^[a-zA-Z0-9_-]{1,63}$/;

const LOCATION = new RegExp(`^projects/${SEGMENT}/locations/${SEGMENT}$`);
const KEY_RING = new RegExp(`^projects/${SEGMENT}/locations/${SEGMENT}/keyRings/${SEGMENT}$`);
const CRYPTO_KEY = new RegExp(
  `^(projects/${SEGMENT}/locations/${SEGMENT}/keyRings/${SEGMENT})/cryptoKeys/(${SEGMENT})$`,
);
const VERSION = new RegExp(
  `^(projects/${SEGMENT}/locations/${SEGMENT}/keyRings/${SEGMENT}/cryptoKeys/${SEGMENT})/cryptoKeyVersions/([0-9]+)$`,
);

function invalid(what: string, value: string): RpcError {
  return new RpcError(status.INVALID_ARGUMENT, `Resource name [${value}] is not a valid ${what}.`);
}

export function checkLocation(name: string): string {
  if (!LOCATION.test(name)) throw invalid('location', name);
  return name;
}

export function checkKeyRing(name: string): string {
  if (!KEY_RING.test(name)) throw invalid('KeyRing name', name);
  return name;
}

export function checkCryptoKey(name: string): string {
  if (!CRYPTO_KEY.test(name)) throw invalid('CryptoKey name', name);
  return name;
}

/** True for `.../cryptoKeys/k/cryptoKeyVersions/N`. */
export function isVersionName(name: string): boolean {
  return VERSION.test(name);
}

/** A CryptoKeyVersion name as its CryptoKey name and numeric id. */
export function splitVersion(name: string): { key: string; id: number } {
  const [, key, id] = VERSION.exec(name) ?? [];
  if (!key || !id) throw invalid('CryptoKeyVersion name', name);
  return { key, id: Number(id) };
}

/** A resource id in a Create request (`key_ring_id`, `crypto_key_id`). */
export function checkId(field: string, id: string): string {
  if (!ID.test(id)) {
    throw new RpcError(status.INVALID_ARGUMENT, `${field} must match [a-zA-Z0-9_-]{1,63}: "${id}"`);
  }
  return id;
}

export function versionName(key: string, id: number): string {
  return `${key}/cryptoKeyVersions/${id}`;
}
