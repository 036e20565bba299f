// Reads etcd without any of rekey's code: raw keys and values through the etcd3 client, the KMS v2
// keyID taken from the EncryptedObject by a minimal protobuf walk written here. The tests compare
// rekey's proof and inventory against it, so a bug shared by both sides cannot hide.
import { Etcd3 } from 'etcd3';

const KMS_V2 = 'k8s:enc:kms:v2:';

/** Field 2 (keyID, length-delimited) of a protobuf message, or undefined. */
function protobufKeyId(body: Buffer): string | undefined {
  let i = 0;
  const varint = (): number => {
    let shift = 0;
    let out = 0;
    for (;;) {
      const b = body[i++];
      if (b === undefined) throw new Error('truncated varint');
      out += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return out;
      shift += 7;
    }
  };
  while (i < body.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (wire === 0) varint();
    else if (wire === 2) {
      const len = varint();
      if (field === 2) return body.subarray(i, i + len).toString('utf8');
      i += len;
    } else if (wire === 5) i += 4;
    else if (wire === 1) i += 8;
    else throw new Error(`unexpected wire type ${wire}`);
  }
  return undefined;
}

/** What one etcd value is, seen independently: `kms-v2:<provider>:<keyID>`, `identity` or its scheme. */
export function describeValue(value: Buffer): string {
  const text = value.subarray(0, 64).toString('latin1');
  if (!text.startsWith('k8s:enc:')) return 'identity';
  if (!text.startsWith(KMS_V2)) return text.split(':').slice(0, 3).join(':');
  const nameEnd = value.indexOf(':', KMS_V2.length);
  const provider = value.subarray(KMS_V2.length, nameEnd).toString('utf8');
  return `kms-v2:${provider}:${protobufKeyId(value.subarray(nameEnd + 1)) ?? '?'}`;
}

/** key -> description for every value under `prefix` (a whole-range read; fine for test sizes). */
export async function readAllValues(
  endpoint: string,
  prefix: string,
): Promise<Map<string, string>> {
  const client = new Etcd3({ hosts: [endpoint] });
  try {
    const all = await client.getAll().prefix(prefix).buffers();
    const out = new Map<string, string>();
    for (const [key, value] of Object.entries(all)) out.set(key, describeValue(value));
    return out;
  } finally {
    client.close();
  }
}

/** The raw value at one key (to put it back later: a value left under the old key on purpose). */
export async function rawValue(endpoint: string, key: string): Promise<Buffer | null> {
  const client = new Etcd3({ hosts: [endpoint] });
  try {
    return await client.get(key).buffer();
  } finally {
    client.close();
  }
}

export async function putRaw(endpoint: string, key: string, value: Buffer): Promise<void> {
  const client = new Etcd3({ hosts: [endpoint] });
  try {
    await client.put(key).value(value);
  } finally {
    client.close();
  }
}

/** key -> raw value for every value under `prefix`, for tests that check the bytes themselves. */
export async function readRawValues(
  endpoint: string,
  prefix: string,
): Promise<Map<string, Buffer>> {
  const client = new Etcd3({ hosts: [endpoint] });
  try {
    return new Map(Object.entries(await client.getAll().prefix(prefix).buffers()));
  } finally {
    client.close();
  }
}
