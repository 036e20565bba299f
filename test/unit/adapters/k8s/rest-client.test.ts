// The REST client's signal (shared/adapters/k8s/rest-client.ts): a call cancelled in flight, or
// before it went out, rejects with the signal's reason instead of answering status 0 (which every
// caller would retry); a network failure without an abort still answers status 0. Against a local
// TCP server that accepts and never answers: nothing here waits on time, only on connections.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createRestClient, serverTimeOf } from '../../../../shared/adapters/k8s/rest-client.ts';

describe('createRestClient: cancelled calls', () => {
  let server: Server;
  const sockets: Socket[] = [];
  let url = '';
  before(async () => {
    server = createServer((s) => sockets.push(s));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const addr = server.address();
    url = `https://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const client = () => createRestClient({ server: url, authorize: async () => {} });

  it('a call in flight rejects with the reason of its aborted signal', async () => {
    const rest = client();
    const controller = new AbortController();
    const reason = new Error('the step passed its deadline');
    const connected = once(server, 'connection');
    const call = rest.request({ path: '/api/v1/secrets', signal: controller.signal });
    await connected;
    controller.abort(reason);
    await assert.rejects(call, (err) => err === reason);
    rest.close();
  });

  it('a call whose signal already aborted rejects without connecting', async () => {
    const rest = client();
    const before = sockets.length;
    const reason = new Error('lost');
    await assert.rejects(
      rest.request({ path: '/x', signal: AbortSignal.abort(reason) }),
      (err) => err === reason,
    );
    assert.equal(sockets.length, before);
    rest.close();
  });

  it('a failure without an abort still answers status 0', async () => {
    const closed = createServer((s) => s.destroy());
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const addr = closed.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    const rest = createRestClient({
      server: `https://127.0.0.1:${port}`,
      authorize: async () => {},
    });
    const r = await rest.request({ path: '/x', signal: new AbortController().signal });
    assert.equal(r.status, 0);
    rest.close();
    closed.close();
  });
});

describe('serverTimeOf', () => {
  it("reads the apiserver's Date header, and nothing else", () => {
    assert.equal(
      serverTimeOf({ headers: { date: 'Sun, 01 Jun 2025 12:00:00 GMT' } }),
      Date.parse('2025-06-01T12:00:00Z'),
    );
    assert.equal(serverTimeOf({ headers: {} }), undefined);
    assert.equal(serverTimeOf({ headers: { date: 'soon' } }), undefined);
  });
});
