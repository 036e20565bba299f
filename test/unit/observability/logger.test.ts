// Logs never carry credentials or `data`: pino's output captured from a stream, checked for the
// Authorization value, webhook signature, tokens, cookies and data fields at several depths.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../../shared/observability/logger.ts';

function capture(level: 'info' | 'debug' = 'info') {
  const lines: string[] = [];
  const logger = createLogger({
    name: 'kms-event',
    level,
    destination: { write: (s: string) => void lines.push(s) },
  });
  return { logger, lines, text: () => lines.join('') };
}

const AUTH = 'Bearer eyJhbGciOiJSUzI1NiJ9.SECRET-TOKEN-BODY.sig';
const SECRET_DATA = 'c3VwZXItc2VjcmV0LXBhc3N3b3Jk';

describe('createLogger', () => {
  it('writes JSON lines with name, level label and ISO time', () => {
    const { logger, lines } = capture();
    logger.info({ ceId: 'evt-1' }, 'hello');
    const rec = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    assert.equal(rec.name, 'kms-event');
    assert.equal(rec.level, 'info');
    assert.equal(rec.msg, 'hello');
    assert.equal(rec.ceId, 'evt-1');
    assert.match(String(rec.time), /^\d{4}-\d\d-\d\dT/);
  });

  it('redacts the Authorization header wherever it is logged', () => {
    const { logger, text } = capture();
    logger.info({ authorization: AUTH }, 'top level');
    logger.info({ headers: { authorization: AUTH, cookie: 'session=abc' } }, 'one deep');
    logger.info(
      { req: { headers: { authorization: AUTH, 'webhook-signature': 'v1,SIGVALUE' } } },
      'two deep',
    );
    const out = text();
    assert.ok(!out.includes('SECRET-TOKEN-BODY'));
    assert.ok(!out.includes('session=abc'));
    assert.ok(!out.includes('SIGVALUE'));
    assert.match(out, /\[redacted\]/);
  });

  it('redacts data fields, such as a Secret or a CloudEvent payload', () => {
    const { logger, text } = capture();
    logger.info({ data: { password: SECRET_DATA } }, 'top level');
    logger.info(
      { secret: { metadata: { name: 's1' }, data: { password: SECRET_DATA } } },
      'object',
    );
    logger.info(
      { event: { id: 'e1', data: SECRET_DATA }, obj: { nested: { data: SECRET_DATA } } },
      'deep',
    );
    logger.info({ token: 'TOKEN-VALUE', creds: { token: 'TOKEN-VALUE' } }, 'tokens');
    const out = text();
    assert.ok(!out.includes(SECRET_DATA));
    assert.ok(!out.includes('TOKEN-VALUE'));
    assert.match(out, /"e1"/, 'what is not secret stays');
  });

  it('respects the level', () => {
    const { logger, lines } = capture('info');
    logger.debug('hidden');
    logger.info('shown');
    assert.equal(lines.length, 1);
  });
});
