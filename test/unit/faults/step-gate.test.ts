// The fault tests' gate: held, no delivery reaches rekey; a step lets exactly one through and
// waits for its answer; open lets everything through. A gate that leaked would let rekey run past
// the point where a fault test injects, which is the race the gate exists to remove.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import { startStepGate } from '../../faults/step-gate.ts';

async function fakeRekey() {
  let hits = 0;
  const server = createServer((req, res) => {
    req.resume();
    hits++;
    res.writeHead(200).end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/reconcile`;
  return { url, hits: () => hits, close: () => new Promise((r) => server.close(() => r(0))) };
}

describe('step gate', () => {
  it('held, lets nothing through; a step lets exactly one; open lets the rest', async () => {
    const rekey = await fakeRekey();
    let ticks = 0;
    const gate = await startStepGate(
      () => rekey.url,
      () => {
        ticks++;
        return gate.pass(() => fetch(rekey.url, { method: 'POST', body: '{}' }));
      },
    );
    await gate.hold();
    const post = () => fetch(gate.url, { method: 'POST', body: '{}' });
    const held = [post(), post()];
    await new Promise<void>((r) => {
      const check = () => (gate.waiting() === 2 ? r() : setImmediate(check));
      check();
    });
    assert.equal(rekey.hits(), 0, 'nothing reached rekey while held');

    await gate.step();
    assert.equal(rekey.hits(), 1, 'one step, one delivery');
    assert.equal(gate.waiting(), 1, 'the other still waits');
    assert.equal(ticks, 0, 'a waiting delivery is let through before any tick is sent');

    gate.open();
    const answers = await Promise.all(held);
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200],
    );
    assert.equal(rekey.hits(), 2);

    await gate.hold();
    await gate.step();
    assert.equal(ticks, 1, 'with nothing waiting, a step sends a tick of its own');
    assert.equal(rekey.hits(), 3);
    assert.equal(gate.answered(), 3);
    await gate.close();
    await rekey.close();
  });
});
