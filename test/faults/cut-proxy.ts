// A TCP proxy that can cut a path: while cut, it drops every connection it carries and resets new
// ones at once, as a network partition between rekey and etcd would look to rekey (the cluster
// itself keeps its own path to etcd). Joined again, it forwards bytes untouched.
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface CutProxy {
  url: string;
  cut(on: boolean): void;
  /** Connections refused while cut (shows rekey really tried). */
  refused(): number;
  close(): Promise<void>;
}

export async function startCutProxy(
  target: { host: string; port: number },
  { scheme = 'http' } = {},
): Promise<CutProxy> {
  let cut = false;
  let refused = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    client.on('error', () => client.destroy());
    if (cut) {
      refused++;
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, target.host, () => r()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `${scheme}://${target.host}:${port}`,
    cut(on) {
      cut = on;
      if (on) for (const s of sockets) s.destroy();
    },
    refused: () => refused,
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
