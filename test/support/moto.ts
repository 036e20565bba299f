// Runs moto's server (an independent AWS KMS implementation from PyPI, installed into .venv-moto by
// test/support/setup-moto.sh) as a child process on 127.0.0.1, for the AWS adapter's conformance
// suite. A missing install is an error that says how to fix it, never a silent skip.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { access, constants } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from './sandbox/net.ts';

export const MOTO_SERVER = fileURLToPath(
  new URL('../../.venv-moto/bin/moto_server', import.meta.url),
);
export const SETUP_MOTO = 'test/support/setup-moto.sh';

export interface Moto {
  /** `http://127.0.0.1:<port>`, for the SDK's `endpoint`. */
  endpoint: string;
  child: ChildProcess;
  /** SIGTERM, then SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<void>;
}

export class MotoNotInstalledError extends Error {
  override readonly name = 'MotoNotInstalledError';
}

export async function startMoto({ readyTimeoutMs = 30_000 } = {}): Promise<Moto> {
  try {
    await access(MOTO_SERVER, constants.X_OK);
  } catch (err) {
    throw new MotoNotInstalledError(
      `moto is not installed (${MOTO_SERVER} is missing): run ${SETUP_MOTO} once, then re-run the tests`,
      { cause: err },
    );
  }
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn(MOTO_SERVER, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const exited = once(child, 'exit');

  async function stop(graceMs = 3000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  try {
    await waitFor(
      `moto_server on ${endpoint}`,
      async () => {
        if (child.exitCode !== null)
          throw new Error(`moto_server exited ${child.exitCode}: ${stderr}`);
        const res = await fetch(`${endpoint}/moto-api/`);
        await res.body?.cancel();
        return res.ok ? true : undefined;
      },
      { timeoutMs: readyTimeoutMs, intervalMs: 200 },
    );
  } catch (err) {
    await stop(0);
    throw err;
  }
  return { endpoint, child, stop };
}
