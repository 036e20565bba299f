// A stand-in for a Knative Broker on loopback: the K_SINK rekey emits to. It keeps every event it
// receives and delivers chosen types on to a subscriber the way Knative's delivery does: binary
// mode, at least once, retried on 5xx/404/408/409/429 with backoff, given up on other 4xx.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';

export interface ReceivedEvent {
  type: string;
  source: string;
  id: string;
  data: unknown;
}

export interface Broker {
  url: string;
  events: ReceivedEvent[];
  close(): Promise<void>;
}

const RETRIED = new Set([404, 408, 409, 429]);

/** Posts a binary-mode CloudEvent as Knative would, retrying as Knative's delivery spec says. */
export async function deliver(
  url: string,
  ev: {
    type: string;
    source: string;
    id?: string;
    data: unknown;
    extensions?: Record<string, string>;
  },
  { retries = 5, backoffMs = 200 } = {},
): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'ce-specversion': '1.0',
    'ce-type': ev.type,
    'ce-source': ev.source,
    'ce-id': ev.id ?? randomUUID(),
  };
  for (const [k, v] of Object.entries(ev.extensions ?? {})) headers[`ce-${k}`] = v;
  for (let attempt = 0; ; attempt++) {
    const r = await fetch(url, { method: 'POST', headers, body: JSON.stringify(ev.data) });
    const body = await r.text();
    const retry = r.status >= 500 || RETRIED.has(r.status);
    if (retry && process.env.REKEY_TEST_DEBUG)
      process.stderr.write(`deliver ${url}: ${r.status} ${body}\n`);
    if (!retry || attempt >= retries) return { status: r.status, body };
    await new Promise((res) => setTimeout(res, backoffMs * 2 ** attempt));
  }
}

function read(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** Starts the broker; events whose type is in `routes` are delivered on to that URL. */
export async function startBroker(routes: Record<string, string> = {}): Promise<Broker> {
  const events: ReceivedEvent[] = [];
  const server: Server = createServer(async (req, res) => {
    const body = await read(req);
    const h = req.headers;
    const ev: ReceivedEvent = {
      type: String(h['ce-type'] ?? ''),
      source: String(h['ce-source'] ?? ''),
      id: String(h['ce-id'] ?? ''),
      data: body ? JSON.parse(body) : undefined,
    };
    events.push(ev);
    res.writeHead(202).end();
    const target = routes[ev.type];
    if (target)
      void deliver(target, { type: ev.type, source: ev.source, id: ev.id, data: ev.data }).catch(
        () => {},
      );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}/`,
    events,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
