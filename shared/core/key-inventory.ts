// `keys` as a use case: the inventory of every key_id (and every other encryption) under the etcd
// prefix, with counts per storage path, from etcd without decrypting.
import { InventoryTally, type KeyInventory } from '../domain/key-inventory.ts';
import type { ValueScanner } from '../ports/value-scanner.ts';

export async function keyInventory(scanner: ValueScanner): Promise<KeyInventory> {
  const tally = new InventoryTally(scanner.prefix);
  for await (const v of scanner.values()) tally.add(v);
  return tally.result();
}
