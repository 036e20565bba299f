// CloudEvents intake over HTTP for Knative deliveries: binary mode (ce-* headers) and structured
// mode (application/cloudevents+json), parsed by the cloudevents SDK and validated with
// `event.validate()`. Batch mode (application/cloudevents-batch+json) is refused with 422: Knative
// never sends batches, and handling one event per request keeps the status code meaningful for
// Knative's per-event retries. Over the size limit => 413, anything unreadable => 400.

import { type CloudEvent, HTTP, ValidationError } from 'cloudevents';
import type { Context } from 'hono';
import type { RekeyEnv } from './env.ts';
import { PermanentError } from './errors.ts';
import { DEFAULT_MAX_BODY_BYTES, readBodyText } from './read-body.ts';

/** Options of {@link readCloudEvent}. */
export interface ReadCloudEventOptions {
  /** Largest body accepted, in bytes (default 1 MiB). */
  maxBytes?: number;
}

const BATCH_MEDIA_TYPE = 'application/cloudevents-batch+json';
const STRUCTURED_MEDIA_TYPE = 'application/cloudevents';
const SPEC_VERSIONS = new Set(['1.0', '0.3']);

const inventedTime = new WeakSet<object>();

/** True when the sender gave no `time` and the SDK filled in the receive time. */
export function timeWasInvented(event: object): boolean {
  return inventedTime.has(event);
}

function normalisedContentType(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const [media = '', ...params] = contentType.split(';');
  return [media.trim().toLowerCase(), ...params].join(';');
}

function timeWasSent(headers: Record<string, string>, body: unknown, structured: boolean): boolean {
  if (!structured) return headers['ce-time'] !== undefined;
  const parsed = typeof body === 'string' ? safeJson(body) : body;
  return typeof parsed === 'object' && parsed !== null && 'time' in parsed;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** The reason a SDK or validation failure gives, without echoing the body back. */
function reasonOf(err: unknown): string {
  if (err instanceof SyntaxError) return 'body is not valid JSON';
  if (err instanceof ValidationError) {
    const details = (err.errors ?? [])
      .map((e) => {
        if (typeof e === 'string') return e;
        const { instancePath, message } = e as { instancePath?: string; message?: string };
        if (!message) return undefined;
        return instancePath ? `${instancePath.replace(/^\//, '')} ${message}` : message;
      })
      .filter((m): m is string => m !== undefined && m.length > 0);
    return details.length > 0 ? details.slice(0, 5).join('; ') : err.message;
  }
  return 'not a CloudEvent';
}

/** Parses a structured-mode body far enough to refuse what the SDK would quietly repair. */
function structuredBody(text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new PermanentError('malformed CloudEvent: body is not valid JSON', { cause });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new PermanentError('malformed CloudEvent: structured mode body must be a JSON object');
  }
  const obj = parsed as Record<string, unknown>;
  // The SDK would invent an id for an event without one, hiding a broken sender.
  if (typeof obj.id !== 'string' || obj.id.length === 0) {
    throw new PermanentError("malformed CloudEvent: must have required property 'id'");
  }
  return obj;
}

/**
 * Reads the request as one CloudEvent and validates it. Records the event id, type and
 * traceparent on the context (`ceId`, `ceType`, `traceparent`) for the request logger.
 *
 * @throws PermanentError 422 for batch mode, 413 past `maxBytes`, 400 for anything malformed.
 * @example
 * app.post('/kms-event', async (c) => {
 *   const event = await readCloudEvent(c);
 *   return c.body(null, 202);
 * });
 */
export async function readCloudEvent(
  c: Context<RekeyEnv>,
  { maxBytes = DEFAULT_MAX_BODY_BYTES }: ReadCloudEventOptions = {},
): Promise<CloudEvent<unknown>> {
  const headers = c.req.header();
  const traceHeader = headers.traceparent;
  if (traceHeader) c.set('traceparent', traceHeader);
  if (headers['ce-id']) c.set('ceId', headers['ce-id']);
  // Until the event validates, its type is untrusted input: never a metric label.
  c.set('ceType', 'invalid');

  const type = mediaType(headers['content-type']);
  if (type === BATCH_MEDIA_TYPE) {
    throw new PermanentError(
      'CloudEvents batch mode is not supported: send one event per request (binary or structured mode)',
      { status: 422 },
    );
  }
  const text = await readBodyText(c, { maxBytes });
  const structured = type.startsWith(STRUCTURED_MEDIA_TYPE);
  const body = structured ? structuredBody(text) : text;

  let event: CloudEvent<unknown>;
  try {
    // the SDK matches media types case-sensitively; RFC 9110 says they are not
    const parsed = HTTP.toEvent<unknown>({
      headers: { ...headers, 'content-type': normalisedContentType(headers['content-type']) },
      body,
    });
    if (Array.isArray(parsed)) {
      throw new PermanentError('CloudEvents batch mode is not supported', { status: 422 });
    }
    event = parsed as CloudEvent<unknown>;
    event.validate();
  } catch (err) {
    if (err instanceof PermanentError) throw err;
    throw new PermanentError(`malformed CloudEvent: ${reasonOf(err)}`, { cause: err });
  }
  if (!SPEC_VERSIONS.has(event.specversion)) {
    throw new PermanentError(`malformed CloudEvent: unsupported specversion ${event.specversion}`);
  }

  // The SDK stamps "now" on an event sent without `time` (an optional attribute); remember that,
  // so a parser never mistakes the moment of delivery for the moment of the change.
  if (!timeWasSent(headers, body, structured)) inventedTime.add(event);
  c.set('ceId', event.id);
  c.set('ceType', event.type);
  const traceExt = event.traceparent;
  if (!traceHeader && typeof traceExt === 'string') c.set('traceparent', traceExt);
  return event;
}
