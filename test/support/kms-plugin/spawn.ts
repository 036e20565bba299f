// Starts the sandbox KMS v2 plugin as a child process and waits for its ready line, the way the
// sandbox and the integration tests run it (a real process, so SIGTERM and restarts are real).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const KMS_PLUGIN_MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

export interface SpawnKmsPluginOptions {
  socketPath: string;
  keyringDir: string;
  instance: string;
  readyTimeoutMs?: number;
  /** Where the plugin's stderr log goes; default: inherited. */
  stderr?: 'inherit' | 'ignore' | 'pipe';
}

export interface SpawnedKmsPlugin {
  child: ChildProcess;
  /** The key_id from the ready line. */
  keyId: string;
  /** SIGTERM, then SIGKILL after graceMs; resolves with the exit code (null if killed). */
  stop(graceMs?: number): Promise<number | null>;
}

export class KmsPluginStartError extends Error {
  override name = 'KmsPluginStartError';
}

export async function spawnKmsPlugin({
  socketPath,
  keyringDir,
  instance,
  readyTimeoutMs = 10_000,
  stderr = 'inherit',
}: SpawnKmsPluginOptions): Promise<SpawnedKmsPlugin> {
  const args = [
    KMS_PLUGIN_MAIN,
    '--socket',
    socketPath,
    '--keyring',
    keyringDir,
    '--instance',
    instance,
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', stderr] });
  const exited = once(child, 'exit').then(([code]) => code as number | null);

  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const ready = new Promise<{ keyId: string }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new KmsPluginStartError(`no ready line within ${readyTimeoutMs} ms`)),
      readyTimeoutMs,
    );
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        const parsed = JSON.parse(line) as { ready?: boolean; keyId?: string };
        if (parsed.ready === true && typeof parsed.keyId === 'string')
          resolve({ keyId: parsed.keyId });
        else reject(new KmsPluginStartError(`unexpected first line: ${line}`));
      } catch (err) {
        reject(new KmsPluginStartError(`unexpected first line: ${line}`, { cause: err }));
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new KmsPluginStartError(`plugin exited with code ${code} before it was ready`));
    });
  });

  let keyId: string;
  try {
    ({ keyId } = await ready);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    child,
    keyId,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
