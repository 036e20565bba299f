// An in-memory EncryptionSwitch store for the object's tick (shared/core/drive-encryption-switch.ts):
// one object named `cluster` with `spec`, its status written only at the resourceVersion read, and
// the number of status writes counted.
import type {
  EncryptionSwitchStore,
  StoredEncryptionSwitch,
} from '../../../shared/ports/encryption-switches.ts';

export function memorySwitches(spec: unknown) {
  const state: { object: StoredEncryptionSwitch | undefined; writes: number } = {
    object: { name: 'cluster', generation: 1, resourceVersion: '1', spec },
    writes: 0,
  };
  const store: EncryptionSwitchStore = {
    async get(name) {
      return name === state.object?.name ? structuredClone(state.object) : undefined;
    },
    async updateStatus(s, status) {
      if (!state.object || s.resourceVersion !== state.object.resourceVersion) return false;
      state.writes++;
      state.object = {
        ...state.object,
        resourceVersion: String(Number(state.object.resourceVersion) + 1),
        status: structuredClone(status),
      };
      return true;
    },
  };
  return { state, store };
}
