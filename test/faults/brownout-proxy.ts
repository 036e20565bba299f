// A TCP proxy between rekey and the apiserver that can brown out: while on, it drops the tunnels
// it holds and answers every new connection itself, over TLS with the apiserver's own serving
// certificate, with 503 and Retry-After, as an overloaded apiserver or its load balancer would.
// Off, it forwards bytes untouched (TLS end to end, as with test/support/latency-proxy.ts).
import { readFileSync } from 'node:fs';
import { createServer as createHttps } from 'node:https';
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface BrownoutProxy {
  url: string;
  /** Starts (true) or ends (false) the brownout. */
  brownout(on: boolean): void;
  /** Requests answered 503 so far. */
  refused(): number;
  close(): Promise<void>;
}

export async function startBrownoutProxy(
  target: { host: string; port: number },
  tls: { certFile: string; keyFile: string },
  { retryAfterSeconds = 1 } = {},
): Promise<BrownoutProxy> {
  let on = false;
  let refused = 0;
  const tunnels = new Set<Socket>();
  const unavailable = createHttps(
    { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) },
    (req, res) => {
      refused++;
      req.resume();
      res
        .writeHead(503, {
          'content-type': 'application/json',
          'retry-after': String(retryAfterSeconds),
          connection: 'close',
        })
        .end(
          JSON.stringify({
            kind: 'Status',
            apiVersion: 'v1',
            status: 'Failure',
            reason: 'ServiceUnavailable',
            message: 'brownout injected by the fault test',
            code: 503,
          }),
        );
    },
  );
  unavailable.on('tlsClientError', () => {});
  const server: Server = createServer((client) => {
    client.on('error', () => client.destroy());
    if (on) {
      unavailable.emit('connection', client);
      return;
    }
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      tunnels.add(s);
      s.on('close', () => tunnels.delete(s));
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
    url: `https://${target.host}:${port}`,
    brownout(next) {
      on = next;
      // kept-alive connections would otherwise carry on to the healthy apiserver
      if (on) for (const s of tunnels) s.destroy();
    },
    refused: () => refused,
    close() {
      for (const s of tunnels) s.destroy();
      unavailable.close();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
