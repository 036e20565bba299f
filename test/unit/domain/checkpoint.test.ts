// Checkpoints through annotations: the round trip, hashed keys for long or odd resource names,
// advancing and restarting, and defensive parsing (an error value for every kind of bad input).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  advanceCheckpoint,
  checkpointKey,
  checkpointsToAnnotations,
  parseCheckpoint,
  parseCheckpoints,
  type ResourceCheckpoint,
  restartListing,
  startCheckpoint,
} from '../../../shared/domain/checkpoint.ts';
import { counts, minute } from '../../support/unit/domain-fixtures.ts';

const running: ResourceCheckpoint = {
  resource: 'secrets',
  continueToken: 'eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTB9',
  done: false,
  counts: counts({ listed: 500, reencrypted: 480, unchanged: 17, conflicts: 2, gone: 1 }),
};
const finished: ResourceCheckpoint = {
  resource: 'configmaps',
  done: true,
  counts: counts({ listed: 3, reencrypted: 3, retried: 4 }),
  finishedAt: minute(5),
};

describe('checkpointKey', () => {
  const table: [string, RegExp][] = [
    ['secrets', /^rekey\.dev\/progress\.secrets$/],
    ['widgets.stable.example.com', /^rekey\.dev\/progress\.widgets\.stable\.example\.com$/],
    ['w'.repeat(60), /^rekey\.dev\/progress\.[0-9a-f]{16}$/],
    ['Weird/Name', /^rekey\.dev\/progress\.[0-9a-f]{16}$/],
  ];
  for (const [resource, want] of table) {
    it(`${resource.slice(0, 30)} -> ${want}`, () => assert.match(checkpointKey(resource), want));
  }
});

describe('checkpoints through annotations', () => {
  it('round-trips, with string values only', () => {
    const long = { ...running, resource: 'w'.repeat(60) };
    const annotations = checkpointsToAnnotations([running, finished, long]);
    for (const v of Object.values(annotations)) assert.equal(typeof v, 'string');
    assert.deepEqual(
      parseCheckpoints({ ...annotations, 'rekey.dev/phase': 'Migrating', other: 'x' }),
      {
        checkpoints: [finished, running, long].sort((a, b) => a.resource.localeCompare(b.resource)),
        errors: [],
      },
    );
  });

  it('reads nothing from no annotations', () => {
    assert.deepEqual(parseCheckpoints(), { checkpoints: [], errors: [] });
  });

  it('defaults missing counters to zero', () => {
    const parsed = parseCheckpoint('{"resource":"secrets","done":false,"counts":{"listed":4}}');
    assert.deepEqual(parsed, {
      ok: true,
      checkpoint: { resource: 'secrets', done: false, counts: counts({ listed: 4 }) },
    });
  });

  const bad: [string, string | undefined, string][] = [
    ['not JSON', '{oops', 'not JSON'],
    ['an array', '[]', 'not a JSON object'],
    ['null', 'null', 'not a JSON object'],
    ['a missing value', undefined, 'not JSON'],
    ['no resource', '{"done":true,"counts":{}}', 'resource must be a non-empty string'],
    [
      'an empty resource',
      '{"resource":"","done":true,"counts":{}}',
      'resource must be a non-empty string',
    ],
    [
      'done as a string',
      '{"resource":"secrets","done":"yes","counts":{}}',
      'done must be a boolean',
    ],
    [
      'a numeric continue',
      '{"resource":"secrets","done":false,"continue":7,"counts":{}}',
      'continue must be a string',
    ],
    ['no counts', '{"resource":"secrets","done":false}', 'counts must be a JSON object'],
    [
      'a negative count',
      '{"resource":"secrets","done":false,"counts":{"gone":-1}}',
      'counts.gone must be a non-negative integer',
    ],
    [
      'a fractional count',
      '{"resource":"secrets","done":false,"counts":{"listed":1.5}}',
      'counts.listed must be a non-negative integer',
    ],
    [
      'a string count',
      '{"resource":"secrets","done":false,"counts":{"failed":"2"}}',
      'counts.failed must be a non-negative integer',
    ],
    [
      'a bad time',
      '{"resource":"secrets","done":true,"counts":{},"finishedAt":"soon"}',
      'finishedAt must be an ISO 8601 time',
    ],
  ];
  for (const [name, value, error] of bad) {
    it(`reports ${name} as an error value`, () => {
      const key = 'rekey.dev/progress.secrets';
      assert.deepEqual(parseCheckpoints({ [key]: value }), {
        checkpoints: [],
        errors: [{ key, error }],
      });
    });
  }

  it('reports a value filed under another resource key', () => {
    const annotations = checkpointsToAnnotations([running]);
    const value = annotations['rekey.dev/progress.secrets'];
    assert.deepEqual(parseCheckpoints({ 'rekey.dev/progress.configmaps': value }), {
      checkpoints: [],
      errors: [
        { key: 'rekey.dev/progress.configmaps', error: 'holds resource "secrets" of another key' },
      ],
    });
  });

  it('keeps the good checkpoints next to a bad one', () => {
    const annotations = { ...checkpointsToAnnotations([finished]), 'rekey.dev/progress.x': '{' };
    const parsed = parseCheckpoints(annotations);
    assert.deepEqual(parsed.checkpoints, [finished]);
    assert.equal(parsed.errors.length, 1);
  });
});

describe('advancing a checkpoint', () => {
  it('starts empty', () => {
    assert.deepEqual(startCheckpoint('secrets'), {
      resource: 'secrets',
      done: false,
      counts: counts(),
    });
  });

  it('moves to the next page and adds the counts', () => {
    const next = advanceCheckpoint(startCheckpoint('secrets'), {
      continueToken: 'c2',
      page: counts({ listed: 500, reencrypted: 500 }),
      now: minute(1),
    });
    assert.deepEqual(next, {
      resource: 'secrets',
      continueToken: 'c2',
      done: false,
      counts: counts({ listed: 500, reencrypted: 500 }),
    });
  });

  it('is done after the last page, with the finish time', () => {
    const next = advanceCheckpoint(running, {
      page: counts({ listed: 1, unchanged: 1 }),
      now: minute(2),
    });
    assert.deepEqual(next, {
      resource: 'secrets',
      done: true,
      counts: counts({ listed: 501, reencrypted: 480, unchanged: 18, conflicts: 2, gone: 1 }),
      finishedAt: minute(2),
    });
  });

  it('restarts the listing after an expired continue token, keeping the counts', () => {
    assert.deepEqual(restartListing(running), {
      resource: 'secrets',
      done: false,
      counts: running.counts,
    });
  });
});
