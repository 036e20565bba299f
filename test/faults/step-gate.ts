// The gate in front of the reconcile function: the real Broker's Triggers deliver PingSource
// ticks, continuations and step requests to it as rekey-reconcile's Knative Service address, and
// it forwards each to the reconcile process when it lets it through. rekey takes a step only when
// a delivery reaches it, so a fault test that holds the gate knows rekey cannot move past the
// point where it stands, injects its fault, then lets steps through one at a time or all at once.
// This is what makes the fault tests wait on rekey's state instead of racing its speed
// (docs/testing.md, "Rules for tests").
//
// What the real data plane adds (README, "What the real tier found"):
// - the InMemoryChannel delivers synchronously, so a step's continuation reaches the gate while
//   the step's own delivery is still open (rekey waits up to 10 s for its emit to be taken). A
//   step has done its work once it emits: a continuation stamped (`ce-time`) after a delivery was
//   let through ends that delivery's work, even if its answer waits on the emit, when that
//   delivery is the only working one that could have sent it;
// - the filter gives up on a delivery after the Trigger's timeout (120 s, infra/base/knative/
//   triggers.yaml) and retries it: a delivery whose sender went away while it waited is dropped
//   from the queue (its retry queues again);
// - the PingSource does not wait for an answer before its next tick: while the gate is held, one
//   tick waits and further ones are refused with 503, as a busy instance would, so that opening the
//   gate does not let a pile of ticks in at once (the Trigger retries them, then dead-letters
//   them; a lost tick is replaced by the next one, which is the Trigger's own policy).
import { createServer, type IncomingMessage, type Server } from 'node:http';

export const TICK_TYPE = 'dev.knative.sources.ping';
export const CONTINUATION_TYPE = 'dev.rekey.migration.slice';
export const STEP_REQUEST_TYPE = 'dev.rekey.step.requested';

/** A delivery that reached the gate: its CloudEvent attributes, its data, reconcile's answer. */
export interface Arrival {
  type: string;
  id: string;
  source: string;
  time: string;
  data: string;
  at: number;
  /** reconcile's status (502: reconcile not reachable; 503 from the gate: a tick refused). */
  status?: number;
  /** Refused by the gate (a second tick while one waited); reconcile never saw it. */
  refused?: boolean;
}

export interface StepGate {
  /** rekey-reconcile's address, as the Triggers resolve it (they append /reconcile). */
  address: string;
  /** Every delivery that reached the gate, in order of arrival. */
  arrivals: Arrival[];
  /** Lets every delivery through from now on. */
  open(): void;
  /** Lets nothing new through, and resolves once no step is working: rekey is idle. */
  hold(): Promise<void>;
  /**
   * Lets exactly one delivery through (waiting for the next one the data plane brings if none
   * waits) and resolves once its step is over (the gate stays held).
   */
  step(): Promise<void>;
  /** Deliveries waiting at the gate. */
  waiting(): number;
  /** Resolves once a step is working (a delivery let through whose step is not over). */
  inFlight(): Promise<void>;
  /** Deliveries reconcile answered (or failed to answer) so far. */
  answered(): number;
  close(): Promise<void>;
}

interface Admitted {
  at: number;
  working: boolean;
}

function read(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

const HOP_BY_HOP = new Set(['host', 'connection', 'content-length', 'keep-alive', 'expect']);

/**
 * `target()` is the reconcile process's base URL (it changes when the process is started again;
 * empty while none runs). The gate starts held unless `open` is set.
 */
export async function startStepGate(
  target: () => string,
  { open = false }: { open?: boolean } = {},
): Promise<StepGate> {
  let credits = open ? Number.POSITIVE_INFINITY : 0;
  let done = 0;
  const arrivals: Arrival[] = [];
  const queue: { admit: () => void; arrival: Arrival }[] = [];
  const admitted: Admitted[] = [];
  let changed: (() => void)[] = [];
  const notify = () => {
    const waiters = changed;
    changed = [];
    for (const w of waiters) w();
  };
  const until = async (pred: () => boolean) => {
    while (!pred()) await new Promise<void>((r) => changed.push(r));
  };
  const working = () => admitted.filter((a) => a.working).length;
  const admit = () => {
    while (credits > 0 && queue.length > 0) {
      credits--;
      queue.shift()?.admit();
    }
  };
  /**
   * A continuation stamped after a delivery was let through: that delivery's step is over. Only
   * when one working delivery could have sent it: with several (the gate open, a delivery still
   * setting up while another's step ends), guessing could mark one over whose step is about to
   * take the Lease, so each stays working until reconcile answers it.
   */
  const stepOver = (a: Arrival) => {
    if (a.type !== CONTINUATION_TYPE || a.source !== 'rekey/reconcile') return;
    const stamped = Date.parse(a.time);
    const could = admitted.filter((x) => x.working && x.at <= stamped);
    const mine = could.length === 1 ? could[0] : undefined;
    if (mine) {
      mine.working = false;
      notify();
    }
  };

  const server: Server = createServer(async (req, res) => {
    const body = await read(req);
    const h = req.headers;
    const arrival: Arrival = {
      type: String(h['ce-type'] ?? ''),
      id: String(h['ce-id'] ?? ''),
      source: String(h['ce-source'] ?? ''),
      time: String(h['ce-time'] ?? ''),
      data: body.toString('utf8'),
      at: Date.now(),
    };
    arrivals.push(arrival);
    stepOver(arrival);
    notify();
    const held = credits <= 0 || queue.length > 0;
    if (held && arrival.type === TICK_TYPE && queue.some((q) => q.arrival.type === TICK_TYPE)) {
      arrival.refused = true;
      arrival.status = 503;
      res.writeHead(503, { 'retry-after': '1' }).end();
      return;
    }
    if (held) {
      let gone = false;
      const entry = { admit: () => {}, arrival };
      const wait = new Promise<void>((r) => {
        entry.admit = r;
      });
      queue.push(entry);
      res.on('close', () => {
        if (res.writableFinished || gone) return;
        gone = true;
        // the filter gave up (its timeout) before the gate let the delivery through
        const i = queue.indexOf(entry);
        if (i >= 0) queue.splice(i, 1);
        entry.admit();
        notify();
      });
      notify();
      await wait;
      if (gone) return;
    } else {
      credits--;
    }
    const me: Admitted = { at: Date.now(), working: true };
    admitted.push(me);
    notify();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(h))
      if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = String(v);
    try {
      const base = target();
      if (!base) throw new Error('no reconcile process');
      const r = await fetch(`${base}${req.url ?? '/'}`, { method: 'POST', headers, body });
      const text = await r.text();
      arrival.status = r.status;
      res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'text/plain' });
      res.end(text);
    } catch {
      // reconcile was not there (killed, restarting): the Trigger retries, with its backoff
      arrival.status = 502;
      res.writeHead(502).end();
    } finally {
      me.working = false;
      admitted.splice(admitted.indexOf(me), 1);
      done++;
      notify();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;

  return {
    address: `http://127.0.0.1:${port}`,
    arrivals,
    open() {
      credits = Number.POSITIVE_INFINITY;
      admit();
    },
    async hold() {
      credits = 0;
      await until(() => working() === 0);
    },
    async step() {
      await until(() => working() === 0);
      const before = admitted.length + done;
      credits = 1;
      admit();
      // none waiting: the next delivery the data plane brings (at the latest the next tick)
      await until(() => admitted.length + done > before);
      credits = 0;
      await until(() => working() === 0);
    },
    waiting: () => queue.length,
    inFlight: () => until(() => working() > 0),
    answered: () => done,
    close() {
      credits = Number.POSITIVE_INFINITY;
      admit();
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
