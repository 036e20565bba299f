// The fault tests' gate: held, no delivery reaches rekey; a step lets exactly one through (the
// next one to arrive if none waits) and waits for its step to be over; open lets everything
// through. A gate that leaked would let rekey run past the point where a fault test injects,
// which is the race the gate exists to remove. Also what the real data plane needs of it: a
// second tick is refused while one waits, a delivery whose sender gave up leaves the queue, and a
// step is over once it emitted its continuation, even while its answer waits on that emit.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import { CONTINUATION_TYPE, startStepGate, TICK_TYPE } from '../../faults/step-gate.ts';

async function fakeRekey(handle?: (id: string) => Promise<void>) {
  const hits: string[] = [];
  const server = createServer(async (req, res) => {
    req.resume();
    const id = String(req.headers['ce-id']);
    hits.push(id);
    await handle?.(id);
    res.writeHead(200).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return {
    url,
    hits,
    close: () => new Promise((r) => server.close(() => r(0))),
  };
}

const event = (
  id: string,
  type = CONTINUATION_TYPE,
  time = new Date().toISOString(),
): RequestInit => ({
  method: 'POST',
  headers: {
    'ce-specversion': '1.0',
    'ce-id': id,
    'ce-type': type,
    'ce-source':
      type === TICK_TYPE
        ? '/apis/v1/namespaces/rekey-system/pingsources/rekey-tick'
        : 'rekey/reconcile',
    'ce-time': time,
    'content-type': 'application/json',
  },
  body: '{}',
});

const until = async (pred: () => boolean) => {
  while (!pred()) await new Promise((r) => setImmediate(r));
};

describe('step gate', () => {
  it('held, lets nothing through; a step lets exactly one; open lets the rest', async () => {
    const rekey = await fakeRekey();
    const gate = await startStepGate(() => rekey.url);
    const post = (id: string) => fetch(`${gate.address}/reconcile`, event(id));
    const held = [post('a'), post('b')];
    await until(() => gate.waiting() === 2);
    assert.deepEqual(rekey.hits, [], 'nothing reached rekey while held');

    await gate.step();
    assert.deepEqual(rekey.hits, ['a'], 'one step, the first delivery waiting');
    assert.equal(gate.waiting(), 1, 'the other still waits');

    gate.open();
    const answers = await Promise.all(held);
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200],
    );
    assert.deepEqual(rekey.hits, ['a', 'b']);

    // nothing waiting: a step lets through the next delivery to arrive
    await gate.hold();
    const stepped = gate.step();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(rekey.hits.length, 2, 'no delivery, no step');
    const late = post('c');
    await stepped;
    assert.deepEqual(rekey.hits, ['a', 'b', 'c']);
    assert.equal((await late).status, 200);
    assert.equal(gate.answered(), 3);
    assert.deepEqual(
      gate.arrivals.map((x) => [x.id, x.status]),
      [
        ['a', 200],
        ['b', 200],
        ['c', 200],
      ],
    );
    await gate.close();
    await rekey.close();
  });

  it('refuses a second tick while one waits; drops a delivery whose sender gave up', async () => {
    const rekey = await fakeRekey();
    const gate = await startStepGate(() => rekey.url);
    const first = fetch(`${gate.address}/reconcile`, event('t1', TICK_TYPE));
    await until(() => gate.waiting() === 1);
    const second = await fetch(`${gate.address}/reconcile`, event('t2', TICK_TYPE));
    assert.equal(second.status, 503, 'a second tick is refused while one waits');

    const gaveUp = new AbortController();
    const abandoned = fetch(`${gate.address}/reconcile`, {
      ...event('gone'),
      signal: gaveUp.signal,
    }).catch(() => undefined);
    await until(() => gate.waiting() === 2);
    gaveUp.abort();
    await abandoned;
    await until(() => gate.waiting() === 1);

    gate.open();
    assert.equal((await first).status, 200);
    assert.deepEqual(rekey.hits, ['t1'], 'neither the refused tick nor the abandoned delivery');
    await gate.close();
    await rekey.close();
  });

  it('a step is over once it emitted its continuation, while its answer waits on the emit', async () => {
    let gate: Awaited<ReturnType<typeof startStepGate>> | undefined;
    let answerContinuation = () => {};
    const emitted = new Promise<void>((r) => {
      answerContinuation = r;
    });
    // as through the synchronous channel: the step's answer waits until its continuation is taken
    const rekey = await fakeRekey(async (id) => {
      if (id !== 'first' || !gate) return;
      void fetch(`${gate.address}/reconcile`, event('next')).then(() => answerContinuation());
      await emitted;
    });
    gate = await startStepGate(() => rekey.url);
    // a retry of an older continuation (stamped before the step) does not end the step
    const retried = fetch(
      `${gate.address}/reconcile`,
      event('older', CONTINUATION_TYPE, new Date(Date.now() - 60_000).toISOString()),
    );
    const first = fetch(`${gate.address}/reconcile`, event('first', TICK_TYPE));
    await until(() => gate?.waiting() === 2);
    await gate.step();
    await gate.step();
    assert.deepEqual(rekey.hits, ['older', 'first']);
    assert.equal(gate.waiting(), 1, 'the continuation waits at the held gate');
    gate.open();
    await Promise.all([retried, first]);
    assert.deepEqual(rekey.hits, ['older', 'first', 'next']);
    await gate.close();
    await rekey.close();
  });

  it('with two steps working, a continuation ends neither: hold waits for both answers', async () => {
    const answer = new Map<string, () => void>();
    const rekey = await fakeRekey(
      (id) => new Promise<void>((r) => answer.set(id, r)), // answered when the test says
    );
    const gate = await startStepGate(() => rekey.url, { open: true });
    const a = fetch(`${gate.address}/reconcile`, event('a', TICK_TYPE));
    await until(() => answer.has('a'));
    const b = fetch(`${gate.address}/reconcile`, event('b', TICK_TYPE));
    await until(() => answer.has('b'));
    let held = false;
    const holding = gate.hold().then(() => {
      held = true;
    });
    // one of them emitted it, but the gate cannot tell which: it must not guess (the oldest, a,
    // is what it used to pick, while a could be the one still working)
    const c = fetch(`${gate.address}/reconcile`, event('c'));
    await until(() => gate.waiting() === 1);
    answer.get('b')?.();
    assert.equal((await b).status, 200);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(held, false, 'a may still be working: hold does not resolve');
    answer.get('a')?.();
    await holding;
    assert.equal((await a).status, 200);
    assert.deepEqual([...answer.keys()], ['a', 'b'], 'the continuation waited at the held gate');
    gate.open();
    await until(() => answer.has('c'));
    answer.get('c')?.();
    assert.equal((await c).status, 200);
    await gate.close();
    await rekey.close();
  });
});
