// The event sink shared/app builds from the settings: Knative's sender token goes to K_SINK only,
// never to an outgoing webhook; without K_SINK nothing is sent, the function still starts, and a
// key danger is still logged at error level.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { eventSinkFor } from '../../../shared/app/event-sink.ts';
import { loadConfig } from '../../../shared/config/config.ts';
import { createLogger } from '../../../shared/observability/logger.ts';

const WEBHOOK_SECRET = `whsec_${Buffer.from('0123456789abcdef0123').toString('base64')}`;
const seen: { path: string; headers: IncomingHttpHeaders }[] = [];
const server = createServer((req, res) => {
  seen.push({ path: req.url ?? '', headers: req.headers });
  req.resume();
  req.on('end', () => res.writeHead(202).end());
});

describe('the event sink from the settings', () => {
  let base = '';
  const lines: string[] = [];
  const logger = createLogger({
    name: 't',
    level: 'debug',
    destination: new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  });
  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const a = server.address();
    base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  });
  after(() => server.close());

  it('sends the mounted sender token to K_SINK and not to outgoing webhooks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rekey-token-'));
    writeFileSync(join(dir, 'token'), 'the-oidc-token\n');
    const config = loadConfig({
      REKEY_PROVIDER: 'p',
      K_SINK: `${base}/broker`,
      REKEY_SINK_TOKEN_FILE: join(dir, 'token'),
      // same origin would be ambiguous; a webhook elsewhere must never see the token
      REKEY_OUTGOING_WEBHOOK_URLS: `http://localhost:${new URL(base).port}/hook`,
      REKEY_OUTGOING_WEBHOOK_SECRETS: WEBHOOK_SECRET,
    });
    seen.length = 0;
    await eventSinkFor(config, 'reconcile', logger).emit('migration.completed', {
      provider: 'p',
      revision: 'encryption-key-p-1',
      keyIdHash: 'sha256:00',
    });
    const toSink = seen.find((s) => s.path === '/broker');
    const toHook = seen.find((s) => s.path === '/hook');
    assert.equal(toSink?.headers.authorization, 'Bearer the-oidc-token');
    assert.equal(toSink?.headers['ce-type'], 'dev.rekey.migration.completed');
    assert.ok(toHook, 'the webhook was called');
    assert.equal(toHook.headers.authorization, undefined);
    assert.ok(toHook.headers['webhook-signature']);
  });

  it('without K_SINK sends nothing, and logs a key danger loudly', async () => {
    seen.length = 0;
    lines.length = 0;
    const sink = eventSinkFor(loadConfig({ REKEY_PROVIDER: 'p' }), 'kms-event', logger);
    await sink.emit('migration.completed', {
      provider: 'p',
      revision: 'r',
      keyIdHash: 'sha256:00',
    });
    await sink.emit('key.danger', { provider: 'p', what: 'deleted', key: 'k', at: 'now' });
    assert.equal(seen.length, 0);
    const errors = lines.map((l) => JSON.parse(l)).filter((l) => l.level === 'error');
    assert.deepEqual(
      errors.map((l) => l.type),
      ['key.danger'],
      'the danger, and only it, is logged at error level',
    );
  });
});
