// The EncryptionSwitchStore port on the cluster-scoped custom resource
// `encryptionswitches.rekey.dev` (infra/base/crd-encryptionswitches.yaml): `get` by name, and the
// status written through the status subresource (an update) with the object's resourceVersion, so the spec is
// never written and a change made meanwhile is never overwritten.
import type { EncryptionSwitchStatus } from '../../domain/encryption-revisions/switch-conditions.ts';
import type {
  EncryptionSwitchStore,
  StoredEncryptionSwitch,
} from '../../ports/encryption-switches.ts';
import type { RestClient } from './rest-client.ts';
import { retryAfterSecondsOf } from './rest-client.ts';
import { KubeApiError, parseAnswer } from './typed-api.ts';

export const ENCRYPTION_SWITCH_GROUP = 'rekey.dev';
export const ENCRYPTION_SWITCH_VERSION = 'v1alpha1';
export const ENCRYPTION_SWITCH_PLURAL = 'encryptionswitches';
const BASE = `/apis/${ENCRYPTION_SWITCH_GROUP}/${ENCRYPTION_SWITCH_VERSION}/${ENCRYPTION_SWITCH_PLURAL}`;

interface RawSwitch {
  metadata?: { name?: string; generation?: number; resourceVersion?: string };
  spec?: unknown;
  status?: Partial<EncryptionSwitchStatus>;
}

function stored(o: RawSwitch): StoredEncryptionSwitch {
  return {
    name: o.metadata?.name ?? '',
    generation: o.metadata?.generation ?? 0,
    resourceVersion: o.metadata?.resourceVersion ?? '',
    spec: o.spec,
    ...(o.status ? { status: o.status } : {}),
  };
}

export function createEncryptionSwitchStore(rest: RestClient): EncryptionSwitchStore {
  return {
    async get(name) {
      const path = `${BASE}/${encodeURIComponent(name)}`;
      const res = await rest.request({ path });
      // 404: no such object, or the CRD is not installed (nothing declared)
      if (res.status === 404) return undefined;
      if (res.status < 200 || res.status >= 300) {
        throw new KubeApiError(res.status, res.body, `GET ${path}`, retryAfterSecondsOf(res));
      }
      return stored(parseAnswer<RawSwitch>(res.body, `GET ${path}`, res.status));
    },
    async updateStatus(s, status) {
      const path = `${BASE}/${encodeURIComponent(s.name)}/status`;
      // an update (PUT) of the status subresource: the apiserver ignores every change but the
      // status, and refuses it (409) when the object changed since `resourceVersion` was read
      const res = await rest.request({
        method: 'PUT',
        path,
        body: {
          apiVersion: `${ENCRYPTION_SWITCH_GROUP}/${ENCRYPTION_SWITCH_VERSION}`,
          kind: 'EncryptionSwitch',
          metadata: { name: s.name, resourceVersion: s.resourceVersion },
          status,
        },
      });
      if (res.status === 409) return false;
      if (res.status < 200 || res.status >= 300) {
        throw new KubeApiError(res.status, res.body, `PUT ${path}`, retryAfterSecondsOf(res));
      }
      return true;
    },
  };
}
