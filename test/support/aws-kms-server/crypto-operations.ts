// Encrypt, Decrypt and GenerateDataKey of the local KMS. Encrypt uses the current material; Decrypt
// finds the material the blob names, so ciphertext from before any rotation still decrypts.
import { randomBytes } from 'node:crypto';
import { open, readHeader, seal } from './ciphertext.ts';
import type { KeyRecord, KmsModel } from './model.ts';
import {
  base64,
  encryptionContext,
  type JsonObject,
  KmsFault,
  optionalInt,
  optionalString,
  requiredBlob,
  requiredString,
} from './wire.ts';

function sealUnder(key: KeyRecord, plaintext: Buffer, context: Record<string, string>): Buffer {
  const secret = key.materials.get(key.currentMaterialId);
  if (!secret) throw new KmsFault('KMSInternalException', 'current material is missing', 500);
  return seal({ keyId: key.keyId, materialId: key.currentMaterialId }, secret, plaintext, context);
}

function checkAlgorithm(body: JsonObject): void {
  const algorithm = optionalString(body, 'EncryptionAlgorithm');
  if (algorithm !== undefined && algorithm !== 'SYMMETRIC_DEFAULT') {
    throw new KmsFault('InvalidKeyUsageException', `${algorithm} is not valid for this key.`);
  }
}

export function encrypt(model: KmsModel, body: JsonObject): JsonObject {
  checkAlgorithm(body);
  const key = model.findUsable(requiredString(body, 'KeyId'));
  const plaintext = requiredBlob(body, 'Plaintext', 4096);
  return {
    CiphertextBlob: base64(sealUnder(key, plaintext, encryptionContext(body))),
    KeyId: key.arn,
    EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
  };
}

export function decrypt(model: KmsModel, body: JsonObject): JsonObject {
  checkAlgorithm(body);
  const blob = requiredBlob(body, 'CiphertextBlob', 6144);
  const head = readHeader(blob);
  let key: KeyRecord;
  try {
    key = model.findUsable(head.keyId);
  } catch (err) {
    if (err instanceof KmsFault && err.type === 'NotFoundException') {
      throw new KmsFault('InvalidCiphertextException', '');
    }
    throw err;
  }
  const wanted = optionalString(body, 'KeyId');
  if (wanted !== undefined && model.find(wanted).keyId !== key.keyId) {
    throw new KmsFault(
      'IncorrectKeyException',
      'The key ID in the request does not identify a KMS key that can perform this operation.',
    );
  }
  const secret = key.materials.get(head.materialId);
  if (!secret) throw new KmsFault('InvalidCiphertextException', '');
  const plaintext = open(blob, secret, encryptionContext(body));
  return {
    Plaintext: base64(plaintext),
    KeyId: key.arn,
    EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    KeyMaterialId: head.materialId,
  };
}

export function generateDataKey(model: KmsModel, body: JsonObject): JsonObject {
  const key = model.findUsable(requiredString(body, 'KeyId'));
  const spec = optionalString(body, 'KeySpec');
  const count = optionalInt(body, 'NumberOfBytes', 1, 1024);
  if ((spec === undefined) === (count === undefined)) {
    throw new KmsFault('ValidationException', 'Please specify either number of bytes or key spec.');
  }
  let bytes = count ?? 0;
  if (spec === 'AES_256') bytes = 32;
  else if (spec === 'AES_128') bytes = 16;
  else if (spec !== undefined) throw new KmsFault('ValidationException', `Invalid KeySpec ${spec}`);
  const plaintext = randomBytes(bytes);
  return {
    CiphertextBlob: base64(sealUnder(key, plaintext, encryptionContext(body))),
    Plaintext: base64(plaintext),
    KeyId: key.arn,
    KeyMaterialId: key.currentMaterialId,
  };
}
