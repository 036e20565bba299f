// UpdateCryptoKey's field mask as the change it asks for. The local server takes the schedule
// fields and labels; FieldMask paths may be snake_case (gRPC) or camelCase (JSON).
import { status } from '@grpc/grpc-js';
import type { UpdateCryptoKeyRequestWire } from './proto.ts';
import type { SchedulePatch } from './records.ts';
import { wireDate, wireSeconds } from './render.ts';
import { RpcError } from './rpc-error.ts';

const MASK_PATHS: Record<string, 'period' | 'next' | 'labels'> = {
  rotation_period: 'period',
  rotationPeriod: 'period',
  next_rotation_time: 'next',
  nextRotationTime: 'next',
  labels: 'labels',
};

export interface CryptoKeyUpdate {
  name: string;
  patch: SchedulePatch;
  labels?: Record<string, string>;
  /** The request in proto3 JSON, as an audit log entry records it. */
  request: Record<string, unknown>;
}

export function parseCryptoKeyUpdate(r: UpdateCryptoKeyRequestWire): CryptoKeyUpdate {
  const ck = r.crypto_key;
  const paths = r.update_mask?.paths ?? [];
  if (!ck?.name) throw new RpcError(status.INVALID_ARGUMENT, 'crypto_key.name is required.');
  if (paths.length === 0) {
    throw new RpcError(status.INVALID_ARGUMENT, 'update_mask must name at least one field.');
  }
  const patch: SchedulePatch = {};
  let labels: Record<string, string> | undefined;
  const sent: Record<string, unknown> = { name: ck.name };
  for (const path of paths) {
    const field = MASK_PATHS[path];
    if (!field) {
      throw new RpcError(
        status.INVALID_ARGUMENT,
        `update_mask path "${path}" is not supported by the local server.`,
      );
    }
    if (field === 'period') {
      // A masked field left unset in crypto_key clears it, as in the real API.
      patch.rotationPeriodSeconds = wireSeconds(ck.rotation_period) ?? null;
      if (patch.rotationPeriodSeconds !== null) {
        sent.rotationPeriod = `${patch.rotationPeriodSeconds}s`;
      }
    } else if (field === 'next') {
      patch.nextRotationTime = wireDate(ck.next_rotation_time) ?? null;
      if (patch.nextRotationTime) sent.nextRotationTime = patch.nextRotationTime.toISOString();
    } else {
      labels = { ...ck.labels };
      sent.labels = labels;
    }
  }
  const updateMask = paths
    .map((p) => p.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()))
    .join(',');
  return {
    name: ck.name,
    patch,
    ...(labels ? { labels } : {}),
    request: { cryptoKey: sent, updateMask },
  };
}
