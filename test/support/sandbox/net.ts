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

// Ports are drawn at random below Linux's ephemeral range (32768-60999 by default), never asked
// of the kernel with port 0: a port the kernel just handed out and we released is soon given to
// some outgoing connection's local end, and the server we start on it a moment later fails with
// "address already in use" (seen when several sandboxes start side by side). A port is also never
// handed out twice by one process.
const LOW = 15_000;
const HIGH = 32_000;
const handedOut = new Set<number>();

/**
 * A TCP port free on every given loopback address at once (two apiservers of one sandbox
 * listen on the same port, each on its own address, as in a real HA control plane).
 */
export async function freePort(hosts: readonly string[] = ['127.0.0.1']): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (handedOut.has(port)) continue;
    let ok = true;
    for (const h of hosts) if ((await tryListen(h, port)) === undefined) ok = false;
    if (ok) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port found on ${hosts.join(', ')} between ${LOW} and ${HIGH}`);
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
