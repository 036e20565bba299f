// Where the node agent's write mode reads revisions from: rekey's revision Secrets in its state
// namespace (the agent needs list and create on Secrets there; see infra's write-mode component).
import {
  createConfigRevisionStore,
  readDesiredConfig,
} from '../../shared/adapters/k8s/config-revision-store.ts';
import type { CoreApi } from '../../shared/adapters/k8s/typed-api.ts';
import type { ConfigSource } from './config-writer.ts';

export function configSourceOf(
  api: Pick<CoreApi, 'listNamespacedSecret' | 'createNamespacedSecret' | 'replaceNamespacedSecret'>,
  namespace: string,
): ConfigSource {
  const store = createConfigRevisionStore(api, { namespace });
  return {
    async desired() {
      const { stored, desired } = await readDesiredConfig(api, namespace);
      if (desired) return { number: desired.record.number, text: desired.text };
      if (stored.length > 0) throw new Error('no configuration revision is rolling out or applied');
      return undefined;
    },
    async recordFound(text, hash) {
      await store.create({ number: 1, stage: 'found', hash, state: 'applied' }, text);
    },
  };
}
