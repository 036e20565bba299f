// A TCP proxy on loopback that delays every chunk in each direction, to put network latency
// between rekey and the apiserver. It forwards bytes only, so TLS passes through untouched: the
// client still verifies the apiserver's certificate: the proxy listens on the apiserver's own
// address (another port), which the certificate names (127.0.0.1, or its private network address).
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface LatencyProxy {
  /** `https://<the target's host>:<port>` when the target is https. */
  url: string;
  port: number;
  /** Changes the one-way delay from now on (0 = pass straight through). */
  setDelay(ms: number): void;
  /** Chunks forwarded so far, both directions (shows traffic really went through). */
  chunks(): number;
  close(): Promise<void>;
}

/**
 * Forwards `from` to `to` with `delay()` ms added to each chunk. One FIFO and one timer per
 * direction: separate timers per chunk may fire out of order when their due times tie, and a
 * reordered chunk corrupts the TLS stream. A chunk never leaves before the one ahead of it.
 */
function pipeDelayed(from: Socket, to: Socket, delay: () => number, counted: () => void): void {
  const queue: { due: number; chunk?: Buffer }[] = []; // no chunk = the end of the stream
  let timer: NodeJS.Timeout | undefined;
  const drain = () => {
    timer = undefined;
    while (queue.length > 0 && (queue[0]?.due ?? 0) <= Date.now()) {
      const item = queue.shift();
      if (to.destroyed) continue;
      if (item?.chunk) to.write(item.chunk);
      else to.end();
    }
    const head = queue[0];
    if (head) timer = setTimeout(drain, Math.max(0, head.due - Date.now()));
  };
  const push = (chunk?: Buffer) => {
    const due = Math.max(Date.now() + delay(), queue.at(-1)?.due ?? 0);
    queue.push(chunk ? { due, chunk } : { due });
    if (!timer) timer = setTimeout(drain, Math.max(0, (queue[0]?.due ?? 0) - Date.now()));
  };
  from.on('data', (chunk: Buffer) => {
    counted();
    push(chunk);
  });
  from.on('end', () => push());
}

export async function startLatencyProxy(
  target: { host: string; port: number },
  { delayMs = 0, scheme = 'https' }: { delayMs?: number; scheme?: string } = {},
): Promise<LatencyProxy> {
  let delay = delayMs;
  let forwarded = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      // one side failing closes the other, as a real network path would
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    const count = () => {
      forwarded++;
    };
    pipeDelayed(client, upstream, () => delay, count);
    pipeDelayed(upstream, client, () => delay, count);
  });
  await new Promise<void>((r) => server.listen(0, target.host, () => r()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `${scheme}://${target.host}:${port}`,
    port,
    setDelay(ms) {
      delay = ms;
    },
    chunks: () => forwarded,
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
