// The REST client's signal (shared/adapters/k8s/rest-client.ts): a call cancelled in flight, or
// before it went out, rejects with the signal's reason instead of answering status 0 (which every
// caller would retry); a network failure without an abort still answers status 0. Against a local
// TCP server that accepts and never answers: nothing here waits on time, only on connections. A
// 401 (rekey's projected token rotated under it) makes the client read the token again and send
// the call once more.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectionFromKubeconfig } from '../../../../shared/adapters/k8s/connection.ts';
import { createRestClient, serverTimeOf } from '../../../../shared/adapters/k8s/rest-client.ts';
import { isRetryableStatus } from '../../../../shared/ports/retryable.ts';
import { createPki } from '../../../support/sandbox/pki.ts';

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

describe('createRestClient: a 401 while the projected token rotates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rekey-rest-401-'));
  let accepted = 'token-1';
  const seen: string[] = [];
  let server: HttpsServer;
  let kubeconfig = '';
  before(async () => {
    const pki = await createPki(dir);
    const { certFile, keyFile } = await pki.issueServing('apiserver', ['127.0.0.1'], []);
    server = createHttpsServer(
      { cert: readFileSync(certFile), key: readFileSync(keyFile) },
      (req, res) => {
        const sent = String(req.headers.authorization ?? '');
        seen.push(sent);
        res.writeHead(sent === `Bearer ${accepted}` ? 200 : 401).end('{}');
      },
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    kubeconfig = JSON.stringify({
      'current-context': 'c',
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
      clusters: [
        {
          name: 'c',
          cluster: { server: `https://127.0.0.1:${port}`, 'certificate-authority': pki.caFile },
        },
      ],
      users: [{ name: 'u', user: { tokenFile: 'token' } }],
    });
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the token again and sends the call once more, which then passes', async () => {
    writeFileSync(join(dir, 'token'), 'token-1');
    const rest = createRestClient(connectionFromKubeconfig(kubeconfig, join(dir, 'kubeconfig')));
    assert.equal((await rest.request({ path: '/api' })).status, 200);
    // the kubelet rotates the token: the old one is refused from now on
    writeFileSync(join(dir, 'token'), 'token-2');
    accepted = 'token-2';
    seen.length = 0;
    assert.equal((await rest.request({ path: '/api' })).status, 200);
    assert.deepEqual(seen, ['Bearer token-1', 'Bearer token-2']);
    rest.close();
  });

  it('answers a 401 that stays, once retried (callers then retry it: it is not permanent)', async () => {
    writeFileSync(join(dir, 'token'), 'revoked');
    accepted = 'something-else';
    const rest = createRestClient(connectionFromKubeconfig(kubeconfig, join(dir, 'kubeconfig')));
    seen.length = 0;
    const r = await rest.request({ path: '/api' });
    assert.equal(r.status, 401);
    assert.equal(seen.length, 2);
    assert.equal(isRetryableStatus(r.status), true);
    rest.close();
  });
});
