// Shared by the functions' contract tests (test/unit/functions/): event fixtures, CloudEvents as
// HTTP requests in binary and structured mode, an app with a captured log, step outcomes, and
// recording fake deps (every call to note/danger/step/continueLater/status/rotate is kept as data
// to assert on).

import { readFileSync } from 'node:fs';
import type { Hono } from 'hono';
import type { NoteResult } from '../../../shared/core/note-kms-rotation.ts';
import type { StepOutcome } from '../../../shared/core/reconcile-step.ts';
import type { DangerClearance } from '../../../shared/domain/key-danger.ts';
import type { KmsRotation } from '../../../shared/domain/kms-rotation.ts';
import type { MigrationCounts } from '../../../shared/domain/migration-counts.ts';
import type { Step } from '../../../shared/domain/phase.ts';
import type { KeyDangerNote } from '../../../shared/domain/revision.ts';
import { type CreateAppOptions, createApp } from '../../../shared/http/app.ts';
import type { RekeyEnv } from '../../../shared/http/env.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { createMetrics } from '../../../shared/observability/metrics.ts';

export type Json = Record<string, unknown>;

const FIXTURES = new URL('../../fixtures/events/', import.meta.url);

/** A fixture file of test/fixtures/events, parsed (a fresh copy on every call). */
export function fixture(name: string): Json {
  return JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as Json;
}

/** The fixture text exactly as stored. */
export function fixtureText(name: string): string {
  return readFileSync(new URL(name, FIXTURES), 'utf8');
}

export type Mode = 'binary' | 'structured';
export const MODES: readonly Mode[] = ['binary', 'structured'];

/** A request for `app.request(path, init)`. */
export interface Post {
  method: 'POST';
  headers: Record<string, string>;
  body: string;
}

const BINARY_CORE = ['specversion', 'id', 'type', 'source', 'time', 'subject', 'dataschema'];

/**
 * A CloudEvent (structured JSON form) as Knative posts it: binary mode puts the attributes in
 * `ce-*` headers, `datacontenttype` in Content-Type and the data in the body; structured mode
 * posts the whole event as `application/cloudevents+json`.
 */
export function cloudEventRequest(
  ev: Json,
  mode: Mode,
  extraHeaders: Record<string, string> = {},
): Post {
  if (mode === 'structured') {
    return {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json', ...extraHeaders },
      body: JSON.stringify(ev),
    };
  }
  const headers: Record<string, string> = {
    'content-type':
      typeof ev.datacontenttype === 'string' ? ev.datacontenttype : 'application/json',
  };
  for (const [k, v] of Object.entries(ev)) {
    if (k === 'data' || k === 'data_base64' || k === 'datacontenttype' || v === undefined) continue;
    if (BINARY_CORE.includes(k) || typeof v === 'string') headers[`ce-${k}`] = String(v);
  }
  const data = ev.data;
  const body = data === undefined ? '' : typeof data === 'string' ? data : JSON.stringify(data);
  return { method: 'POST', headers: { ...headers, ...extraHeaders }, body };
}

/** A minimal CloudEvent of `type` with `data`, in the structured JSON form. */
export function cloudEvent(type: string, data: unknown, extra: Json = {}): Json {
  return {
    specversion: '1.0',
    id: `test-${type}-${Math.random().toString(36).slice(2)}`,
    source: '/test/functions',
    type,
    time: '2025-06-10T14:03:02.118Z',
    datacontenttype: 'application/json',
    data,
    ...extra,
  };
}

/** An app as a composition root builds it, with its log lines kept in `lines`. */
export function testApp(overrides: Partial<CreateAppOptions> = {}): {
  app: Hono<RekeyEnv>;
  lines: string[];
} {
  const lines: string[] = [];
  const logger = createLogger({
    name: 'functions-test',
    level: 'debug',
    destination: { write: (s: string) => void lines.push(s) },
  });
  const app = createApp({
    name: 'functions-test',
    logger,
    metrics: createMetrics({ defaultMetrics: false }),
    readiness: async () => ({ ready: true, details: {} }),
    ...overrides,
  });
  return { app, lines };
}

export const ZERO_COUNTS: MigrationCounts = {
  listed: 0,
  reencrypted: 0,
  unchanged: 0,
  conflicts: 0,
  gone: 0,
  failed: 0,
  retried: 0,
  alreadyCurrent: 0,
};

/** A `kind: 'step'` outcome of reconcileStep. */
export function stepOutcome(
  step: Step,
  more: boolean,
  over: Partial<Extract<StepOutcome, { kind: 'step' }>> = {},
): StepOutcome {
  return {
    kind: 'step',
    provider: 'aws-kms',
    revision: 'encryption-key-aws-kms-3',
    keyIdHash: 'sha256:0f1e2d3c4b5a6978',
    phase: 'Migrating',
    step,
    counts: { ...ZERO_COUNTS, listed: 300, reencrypted: 120, unchanged: 30 },
    more,
    scope: { resources: [{ resource: 'secrets', write: true }], source: 'override', notes: [] },
    verified: false,
    ...over,
  };
}

/** What a fake dependency was called with, in call order. */
export type Call =
  | { fn: 'note'; arg: KmsRotation }
  | { fn: 'danger'; arg: KeyDangerNote }
  | { fn: 'clear'; arg: DangerClearance }
  | { fn: 'step' }
  | { fn: 'encryptionSwitch' }
  | { fn: 'continueLater'; arg: Record<string, unknown> }
  | { fn: 'status' }
  | { fn: 'rotate' };

/** The names of the calls, in order: `['note', 'step']`. */
export function fns(calls: readonly Call[]): string[] {
  return calls.map((c) => c.fn);
}

/** A fake step: records the call and answers `outcome` (or throws what `fail` returns). */
export function fakeStep(
  calls: Call[],
  outcome: StepOutcome | (() => StepOutcome) = stepOutcome({ kind: 'migrate' }, true),
): () => Promise<StepOutcome> {
  return async () => {
    calls.push({ fn: 'step' });
    return typeof outcome === 'function' ? outcome() : outcome;
  };
}

export const NOTED: NoteResult = {
  recorded: true,
  revision: 'encryption-key-aws-kms-3',
  assessment: {
    stale: true,
    kind: 'key-id-changed',
    explanation: 'the plugin reports a new key_id: objects under the old one are stale',
  },
};
