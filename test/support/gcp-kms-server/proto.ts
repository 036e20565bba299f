// Loads google.cloud.kms.v1.KeyManagementService from the .proto files shipped inside
// @google-cloud/kms (and the google/api, google/protobuf... imports shipped inside google-gax), so
// the local server speaks exactly the wire contract the real client library was generated from.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const require = createRequire(import.meta.url);

/** `build/protos` of an installed package; both packages' main entry is `build/src/index.js`. */
function protosOf(pkg: string): string {
  return join(dirname(require.resolve(pkg)), '..', 'protos');
}

export const KMS_SERVICE_PROTO = 'google/cloud/kms/v1/service.proto';
export const KMS_PROTO_INCLUDE_DIRS = [protosOf('@google-cloud/kms'), protosOf('google-gax')];

/** google.protobuf.Timestamp / Duration as proto-loader yields them (longs as strings). */
export interface SecondsWire {
  seconds: string | number;
  nanos: number;
}

/** google.cloud.kms.v1.CryptoKeyVersion on the wire (keepCase: snake_case fields). */
export interface CryptoKeyVersionWire {
  name: string;
  state: string;
  protection_level: string;
  algorithm: string;
  create_time: SecondsWire | null;
  generate_time: SecondsWire | null;
  destroy_time: SecondsWire | null;
  destroy_event_time: SecondsWire | null;
}

/** google.cloud.kms.v1.CryptoKey on the wire; `rotation_schedule` names the oneof member set. */
export interface CryptoKeyWire {
  name: string;
  primary: CryptoKeyVersionWire | null;
  purpose: string;
  create_time: SecondsWire | null;
  next_rotation_time: SecondsWire | null;
  rotation_period?: SecondsWire | null;
  rotation_schedule?: 'rotation_period';
  version_template: { protection_level: string; algorithm: string } | null;
  labels: Record<string, string>;
  destroy_scheduled_duration: SecondsWire | null;
}

let cached: grpc.ServiceClientConstructor | undefined;

/** The generated client constructor; its `.service` is what a grpc.Server registers. */
export function kmsServiceDefinition(): grpc.ServiceClientConstructor {
  if (cached) return cached;
  const definition = protoLoader.loadSync(KMS_SERVICE_PROTO, {
    includeDirs: KMS_PROTO_INCLUDE_DIRS,
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    google: { cloud: { kms: { v1: { KeyManagementService: grpc.ServiceClientConstructor } } } };
  };
  cached = loaded.google.cloud.kms.v1.KeyManagementService;
  return cached;
}

/** The request messages the local server implements, as proto-loader yields them. */
export interface CreateKeyRingRequestWire {
  parent: string;
  key_ring_id: string;
}
export interface CreateCryptoKeyRequestWire {
  parent: string;
  crypto_key_id: string;
  crypto_key: Partial<CryptoKeyWire> | null;
  skip_initial_version_creation: boolean;
}
export interface NameRequestWire {
  name: string;
}
export interface ListCryptoKeyVersionsRequestWire {
  parent: string;
  page_size: number;
  page_token: string;
  filter: string;
  order_by: string;
}
export interface CreateCryptoKeyVersionRequestWire {
  parent: string;
}
export interface UpdateCryptoKeyPrimaryVersionRequestWire {
  name: string;
  crypto_key_version_id: string;
}
export interface UpdateCryptoKeyRequestWire {
  crypto_key: Partial<CryptoKeyWire> | null;
  update_mask: { paths: string[] } | null;
}
export interface EncryptRequestWire {
  name: string;
  plaintext: Buffer;
  additional_authenticated_data: Buffer;
}
export interface DecryptRequestWire {
  name: string;
  ciphertext: Buffer;
  additional_authenticated_data: Buffer;
}
