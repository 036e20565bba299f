// A file-backed keyring for the sandbox KMS v2 plugin. keys.json is an append-only list of AES-256
// keys (`local-1`, `local-2`, ...); each plugin instance has its own current-<instance>.json so
// plugins in front of different apiservers can be rotated one at a time, as in a real rollout.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';

const KeyRecordSchema = z.object({
  keyId: z.string().regex(/^local-\d+$/),
  key: z.base64(),
  createdAt: z.string(),
});
const KeysFileSchema = z.array(KeyRecordSchema);
const PointerSchema = z.object({ keyId: z.string(), updatedAt: z.string() });

export type KeyRecord = z.infer<typeof KeyRecordSchema>;

export class KeyringError extends Error {
  override name = 'KeyringError';
}

export interface KeyringOptions {
  dir: string;
  /** How long to wait for another process's lock before giving up. */
  lockTimeoutMs?: number;
  /** A lock file older than this whose owner cannot be checked is taken over. */
  staleLockMs?: number;
}

export interface Keyring {
  readonly dir: string;
  /** Creates local-1 if the keyring is empty; points `instance` at the newest key if it has no pointer. */
  ensureInitialised(instance: string): Promise<string>;
  /** The key_id `instance` encrypts with now. Cheap to call per RPC: re-reads only on change. */
  current(instance: string): Promise<string>;
  /** Key material for any key ever created, or undefined for an unknown key_id. */
  keyFor(keyId: string): Promise<Buffer | undefined>;
  /**
   * Moves `instances` to the newest key, first creating one if every given instance is already
   * there. So advancing A creates K2; advancing B next moves B to K2 without creating K3.
   */
  advance(instances: readonly string[]): Promise<string>;
  /**
   * Points `instances` at an existing key (a rollback to an earlier key_id); never creates one.
   * An unknown key_id is a KeyringError naming the known ones.
   */
  pointTo(instances: readonly string[], keyId: string): Promise<string>;
  /** All key ids, oldest first (no key material). */
  keyIds(): Promise<string[]>;
}

const INSTANCE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

function checkInstance(instance: string): void {
  // The name becomes part of a file name; keep it from escaping the directory.
  if (!INSTANCE_NAME.test(instance))
    throw new KeyringError(`invalid instance name ${JSON.stringify(instance)}`);
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

async function writeAtomic(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  const file = await open(tmp, 'wx', 0o600);
  try {
    await file.writeFile(`${JSON.stringify(value, null, 2)}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}

export function openKeyring({
  dir,
  lockTimeoutMs = 10_000,
  staleLockMs = 30_000,
}: KeyringOptions): Keyring {
  const keysPath = join(dir, 'keys.json');
  const lockPath = join(dir, 'keyring.lock');
  const pointerPath = (instance: string) => join(dir, `current-${instance}.json`);
  const keyCache = new Map<string, Buffer>();
  const pointerCache = new Map<string, { stamp: string; keyId: string }>();

  async function readKeys(): Promise<KeyRecord[]> {
    let text: string;
    try {
      text = await readFile(keysPath, 'utf8');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return [];
      throw err;
    }
    const keys = KeysFileSchema.parse(JSON.parse(text));
    // Key material never changes once written, so caching it can only miss, never go stale.
    for (const k of keys) keyCache.set(k.keyId, Buffer.from(k.key, 'base64'));
    return keys;
  }

  async function readPointer(instance: string): Promise<string | undefined> {
    try {
      return PointerSchema.parse(JSON.parse(await readFile(pointerPath(instance), 'utf8'))).keyId;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  async function lockIsStale(): Promise<boolean> {
    try {
      const [text, info] = await Promise.all([readFile(lockPath, 'utf8'), stat(lockPath)]);
      const pid = Number.parseInt(text, 10);
      if (Number.isInteger(pid) && pid > 0) return !processIsAlive(pid);
      // Empty: the owner is between creating and writing it, unless it died there long ago.
      return Date.now() - info.mtimeMs > staleLockMs;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false;
      throw err;
    }
  }

  async function withLock<T>(work: () => Promise<T>): Promise<T> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const deadline = Date.now() + lockTimeoutMs;
    for (;;) {
      try {
        const file = await open(lockPath, 'wx', 0o600);
        await file.writeFile(String(process.pid));
        await file.close();
        break;
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err;
      }
      if (await lockIsStale()) {
        await rm(lockPath, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new KeyringError(`timed out after ${lockTimeoutMs} ms waiting for ${lockPath}`);
      }
      await sleep(5 + Math.random() * 20);
    }
    try {
      return await work();
    } finally {
      await rm(lockPath, { force: true });
    }
  }

  async function appendKey(keys: KeyRecord[]): Promise<KeyRecord> {
    // max+1 rather than length+1: ids stay unique even if someone hand-edited the list.
    const highest = keys.reduce((n, k) => Math.max(n, Number(k.keyId.slice('local-'.length))), 0);
    const record: KeyRecord = {
      keyId: `local-${highest + 1}`,
      key: randomBytes(32).toString('base64'),
      createdAt: new Date().toISOString(),
    };
    await writeAtomic(keysPath, [...keys, record]);
    keyCache.set(record.keyId, Buffer.from(record.key, 'base64'));
    return record;
  }

  async function setPointer(instance: string, keyId: string): Promise<void> {
    await writeAtomic(pointerPath(instance), { keyId, updatedAt: new Date().toISOString() });
  }

  return {
    dir,

    ensureInitialised(instance) {
      checkInstance(instance);
      return withLock(async () => {
        const keys = await readKeys();
        const newest = keys.at(-1) ?? (await appendKey(keys));
        const existing = await readPointer(instance);
        if (existing !== undefined) return existing;
        await setPointer(instance, newest.keyId);
        return newest.keyId;
      });
    },

    async current(instance) {
      checkInstance(instance);
      let info: Awaited<ReturnType<typeof stat>>;
      try {
        info = await stat(pointerPath(instance));
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') {
          throw new KeyringError(`instance ${instance} has no current key in ${dir}`, {
            cause: err,
          });
        }
        throw err;
      }
      // Every write is a rename, so the inode changes with each rotation.
      const stamp = `${info.ino}:${info.mtimeMs}:${info.size}`;
      const cached = pointerCache.get(instance);
      if (cached?.stamp === stamp) return cached.keyId;
      const keyId = await readPointer(instance);
      if (keyId === undefined)
        throw new KeyringError(`instance ${instance} has no current key in ${dir}`);
      pointerCache.set(instance, { stamp, keyId });
      return keyId;
    },

    async keyFor(keyId) {
      const cached = keyCache.get(keyId);
      if (cached) return cached;
      await readKeys();
      return keyCache.get(keyId);
    },

    advance(instances) {
      if (instances.length === 0) throw new KeyringError('advance needs at least one instance');
      for (const instance of instances) checkInstance(instance);
      return withLock(async () => {
        const keys = await readKeys();
        const pointers = await Promise.all(instances.map(readPointer));
        let newest = keys.at(-1);
        if (newest === undefined || pointers.every((p) => p === newest?.keyId)) {
          newest = await appendKey(keys);
        }
        const target = newest.keyId;
        await Promise.all(instances.map((instance) => setPointer(instance, target)));
        return target;
      });
    },

    pointTo(instances, keyId) {
      if (instances.length === 0) throw new KeyringError('pointTo needs at least one instance');
      for (const instance of instances) checkInstance(instance);
      return withLock(async () => {
        const known = (await readKeys()).map((k) => k.keyId);
        if (!known.includes(keyId)) {
          throw new KeyringError(
            `unknown key_id ${JSON.stringify(keyId)}: the keyring in ${dir} has ${known.join(', ') || 'no keys'}`,
          );
        }
        await Promise.all(instances.map((instance) => setPointer(instance, keyId)));
        return keyId;
      });
    },

    async keyIds() {
      return (await readKeys()).map((k) => k.keyId);
    },
  };
}

/**
 * Rotation as the sandbox CLI uses it: advance `instances` of the keyring in `keyringDir` and
 * return the key_id they now report. Running plugins pick it up on their next RPC.
 */
export function rotate(keyringDir: string, instances: readonly string[]): Promise<string> {
  return openKeyring({ dir: keyringDir }).advance(instances);
}

/** Rollback as the sandbox CLI uses it: point `instances` back at the earlier key `keyId`. */
export function rotateTo(
  keyringDir: string,
  instances: readonly string[],
  keyId: string,
): Promise<string> {
  return openKeyring({ dir: keyringDir }).pointTo(instances, keyId);
}
