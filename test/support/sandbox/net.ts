// Loopback networking helpers for the sandbox: free ports and polling until a thing is up.
import { createServer } from 'node:net';

function tryListen(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(undefined));
    srv.listen({ host, port, exclusive: true }, () => {
      const addr = srv.address();
      const got = typeof addr === 'object' && addr ? addr.port : undefined;
      srv.close(() => resolve(got));
    });
  });
}

/**
 * A TCP port free on every given loopback address at once (two apiservers of one sandbox
 * listen on the same port, each on its own address, as in a real HA control plane).
 */
export async function freePort(hosts: readonly string[] = ['127.0.0.1']): Promise<number> {
  const [first = '127.0.0.1', ...rest] = hosts;
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await tryListen(first, 0);
    if (port === undefined) continue;
    let ok = true;
    for (const h of rest) if ((await tryListen(h, port)) === undefined) ok = false;
    if (ok) return port;
  }
  throw new Error(`no free port found on ${hosts.join(', ')}`);
}

/** Polls `probe` until it returns a value other than undefined, or throws with `what` after the timeout. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  { timeoutMs = 60_000, intervalMs = 250 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  const why = lastError instanceof Error ? `: ${lastError.message}` : '';
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${why}`, {
    cause: lastError,
  });
}
