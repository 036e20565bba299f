// The sandbox's key: which key_id it uses now, and making every secret stale by rotating it and
// waiting until the apiserver encrypts with the new one (so any no-op rewrite re-encrypts).
import { openKeyring } from '../support/kms-plugin/keyring.ts';
import { rotate, waitForKeyId } from '../support/sandbox/sandbox.ts';
import type { TestSandbox } from '../support/sandbox-fixture.ts';

export function currentKeyId(sb: TestSandbox): Promise<string> {
  const instance = sb.env.apiservers[0]?.plugin.instance;
  if (!instance) throw new Error('the sandbox has no apiserver');
  return openKeyring({ dir: sb.env.kms.keyringDir }).current(instance);
}

/** Rotates, waits for adoption, and returns the new key_id. */
export async function rotateAndAdopt(sb: TestSandbox): Promise<string> {
  const keyId = await rotate({ dir: sb.dir });
  await waitForKeyId(keyId, { dir: sb.dir });
  // the key-id reporter's interval: rekey learns key_ids from its reports, not from the plugin
  await new Promise((r) => setTimeout(r, 2500));
  return keyId;
}
