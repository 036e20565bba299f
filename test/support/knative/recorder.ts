// A receiver for tests on the Knative tier: records every CloudEvent delivered to it (binary
// mode, as Knative delivers), with its path and arrival time, and answers as `answer` says
// (default 202, empty body, as Knative expects of a subscriber that replies no event).
import { createServer, type IncomingMessage } from 'node:http';

export interface Delivery {
  path: string;
  at: number;
  attributes: Record<string, string>;
  data: unknown;
}

export interface Recorder {
  url: string;
  deliveries: Delivery[];
  close(): Promise<void>;
}

function read(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

export async function startRecorder(
  answer: (d: Delivery, deliveries: readonly Delivery[]) => number = () => 202,
): Promise<Recorder> {
  const deliveries: Delivery[] = [];
  const server = createServer(async (req, res) => {
    const body = await read(req);
    const attributes: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (k.startsWith('ce-') && typeof v === 'string') attributes[k.slice(3)] = v;
    }
    let data: unknown = body;
    try {
      data = body ? JSON.parse(body) : undefined;
    } catch {
      // not JSON: kept as text
    }
    const d: Delivery = { path: req.url ?? '', at: Date.now(), attributes, data };
    deliveries.push(d);
    res.writeHead(answer(d, deliveries)).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    deliveries,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
