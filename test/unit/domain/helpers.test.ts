// Small domain helpers: name lists and one-line reasons, observation sources, verification results,
// and the error hierarchy.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DomainError,
  InvalidProviderNameError,
  InvalidRevisionNumberError,
} from '../../../shared/domain/errors.ts';
import { listNames, oneLine } from '../../../shared/domain/format.ts';
import { isObservationSource, OBSERVATION_SOURCES } from '../../../shared/domain/observation.ts';
import { verificationResult } from '../../../shared/domain/verification.ts';

describe('listNames', () => {
  const table: [string[], number | undefined, string][] = [
    [[], undefined, '(none)'],
    [['a'], undefined, 'a'],
    [['a', 'b', 'c'], 2, 'a, b and 1 more'],
    [['a', 'b', 'c'], 3, 'a, b, c'],
    [['a', 'b'], 0, 'a and 1 more'],
  ];
  for (const [names, max, want] of table) {
    it(`${JSON.stringify(names)} max ${max} -> ${want}`, () => {
      assert.equal(listNames(names, max === undefined ? undefined : { max }), want);
    });
  }
});

describe('oneLine', () => {
  it('flattens whitespace', () => assert.equal(oneLine('  a\n\tb  c '), 'a b c'));
  it('cuts long text with an ellipsis', () => assert.equal(oneLine('abcdef', { max: 4 }), 'abc…'));
  it('leaves short text alone', () => assert.equal(oneLine('abcd', { max: 4 }), 'abcd'));
});

describe('isObservationSource', () => {
  for (const s of OBSERVATION_SOURCES) it(`accepts ${s}`, () => assert.ok(isObservationSource(s)));
  for (const s of ['', 'aws', 7, undefined]) {
    it(`rejects ${String(s)}`, () => assert.equal(isObservationSource(s), false));
  }
});

describe('verificationResult', () => {
  it('is clean without offenders', () => {
    assert.deepEqual(verificationResult([], { checkedAt: 't', scanned: 4 }), {
      clean: true,
      offenders: [],
      offenderCount: 0,
      scanned: 4,
      checkedAt: 't',
    });
  });

  it('caps offender names and keeps the total', () => {
    const got = verificationResult(['a', 'b', 'c'], { checkedAt: 't', max: 2 });
    assert.deepEqual(got, {
      clean: false,
      offenders: ['a', 'b'],
      offenderCount: 3,
      checkedAt: 't',
    });
  });
});

describe('domain errors', () => {
  const table: [DomainError, string][] = [
    [new DomainError('x'), 'DomainError'],
    [new InvalidProviderNameError('x'), 'InvalidProviderNameError'],
    [new InvalidRevisionNumberError('x'), 'InvalidRevisionNumberError'],
  ];
  for (const [err, name] of table) {
    it(`${name} is named and a DomainError`, () => {
      assert.equal(err.name, name);
      assert.ok(err instanceof DomainError && err instanceof Error);
    });
  }

  it('keeps the cause', () => {
    const cause = new Error('root');
    assert.equal(new InvalidProviderNameError('x', { cause }).cause, cause);
  });
});
