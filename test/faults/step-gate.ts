// The gate every delivery to the served rekey's /reconcile passes (PingSource ticks and the
// broker's continuations): rekey takes a step only when a delivery reaches it, so a fault test
// that holds the gate knows rekey cannot move past the point where it stands, injects its fault,
// then lets steps through one at a time or all at once. This is what makes the fault tests wait on
// rekey's state instead of racing its speed (docs/testing.md, "Rules for tests").
import { createServer, type IncomingMessage, type Server } from 'node:http';

export interface StepGate {
  /** Where the broker delivers continuations (forwarded to rekey's /reconcile when let through). */
  url: string;
  /** Passes `send` (a delivery to rekey) when the gate lets one through; waits while it is held. */
  pass<T>(send: () => Promise<T>): Promise<T>;
  /** Lets every delivery through from now on. */
  open(): void;
  /** Lets nothing new through, and resolves once no delivery is in flight: rekey is idle. */
  hold(): Promise<void>;
  /** Lets exactly one delivery through and resolves once rekey answered it (the gate stays held). */
  step(): Promise<void>;
  /** Deliveries waiting at the gate. */
  waiting(): number;
  /** Resolves once a delivery is in flight (let through, not yet answered). */
  inFlight(): Promise<void>;
  /** Deliveries rekey answered so far. */
  answered(): number;
  close(): Promise<void>;
}

function read(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

/**
 * `target()` is rekey's current /reconcile URL (it changes when the process is started again).
 * `tick()` delivers one PingSource tick through the gate, for `step()` when nothing is waiting.
 */
export async function startStepGate(
  target: () => string,
  tick: () => Promise<unknown>,
): Promise<StepGate> {
  let credits = Number.POSITIVE_INFINITY;
  let flying = 0;
  let done = 0;
  const queue: (() => void)[] = [];
  let changed: (() => void)[] = [];
  const notify = () => {
    const waiters = changed;
    changed = [];
    for (const w of waiters) w();
  };
  const until = async (pred: () => boolean) => {
    while (!pred()) await new Promise<void>((r) => changed.push(r));
  };
  const admit = () => {
    while (credits > 0 && queue.length > 0) {
      credits--;
      queue.shift()?.();
    }
  };

  async function pass<T>(send: () => Promise<T>): Promise<T> {
    if (credits > 0 && queue.length === 0) credits--;
    else await new Promise<void>((r) => queue.push(r));
    flying++;
    notify();
    try {
      return await send();
    } finally {
      flying--;
      done++;
      notify();
    }
  }

  const server: Server = createServer(async (req, res) => {
    const body = await read(req);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (k.startsWith('ce-') || k === 'content-type') headers[k] = String(v);
    try {
      const r = await pass(() => fetch(target(), { method: 'POST', headers, body }));
      res.writeHead(r.status, { 'content-type': 'application/json' }).end(await r.text());
    } catch {
      // rekey was not there (killed, restarting): the broker retries, as Knative's delivery does
      res.writeHead(502).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;

  return {
    url: `http://127.0.0.1:${port}/reconcile`,
    pass,
    open() {
      credits = Number.POSITIVE_INFINITY;
      admit();
    },
    async hold() {
      credits = 0;
      await until(() => flying === 0);
    },
    async step() {
      await until(() => flying === 0);
      const want = done + 1;
      credits = 1;
      if (queue.length > 0) admit();
      else void tick().catch(() => {});
      await until(() => done >= want);
      credits = 0;
    },
    waiting: () => queue.length,
    inFlight: () => until(() => flying > 0),
    answered: () => done,
    close() {
      credits = Number.POSITIVE_INFINITY;
      admit();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
