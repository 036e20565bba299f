// The EventSink adapter: rekey's events as binary-mode CloudEvents (`dev.rekey.<type>`, source
// `rekey/<function>`, a uuid id, JSON data) to K_SINK, serialised by the cloudevents SDK and sent
// with fetch (the SDK's own httpTransport ignores the response status), plus optional signed
// outgoing webhooks. Two paths with two rules:
// - K_SINK must take every event: continuations travel through it, so a failed delivery rejects
//   the emit with a TransientError (the caller answers 503 and is retried).
// - Outgoing webhooks get the public types only (public-events.ts), best effort: each outcome is
//   reported to `onWebhookDelivery` (logged and counted by the caller) and never fails the emit,
//   so a receiver that is down or slow never stops a step or a trigger.
// Only the port's vocabulary is emitted: a type outside it (a cast, a JavaScript caller) is refused.

import { randomUUID } from 'node:crypto';
import { CloudEvent, emitterFor, HTTP, Mode, type TransportFunction } from 'cloudevents';
import { TransientError } from '../../http/errors.ts';
import {
  type EventSink,
  isRekeyEventType,
  type RekeyEvents,
  type RekeyEventType,
  rekeyType,
} from '../../ports/event-sink.ts';
import { retryAfterOf } from '../../ports/retryable.ts';
import { postEvent } from './http-delivery.ts';
import { isPublicEventType } from './public-events.ts';
import { createWebhookSender, type WebhookDelivery, type WebhookSender } from './webhook-sender.ts';

/** Options of {@link CloudEventSink}. */
export interface CloudEventSinkOptions {
  /** The emitting function (`kms-event`, `reconcile`, ...): the source is `rekey/<function>`. */
  functionName: string;
  /** K_SINK, the Broker's address; optional only when webhooks are configured. */
  sink?: string | URL;
  /** Outgoing Standard Webhooks for the public types, signed with each secret. */
  webhooks?: { urls: readonly (string | URL)[]; secrets: readonly string[] };
  /** Told each outgoing webhook's outcome (`error` set when it was not delivered). */
  onWebhookDelivery?: (delivery: WebhookDelivery & { type: string; id: string }) => void;
  fetch?: typeof globalThis.fetch;
  /** Per-delivery timeout (default 10 s). */
  timeoutMs?: number;
  /** Event ids (default `randomUUID`). */
  newId?: () => string;
  now?: () => Date;
}

/** A type outside the port's vocabulary (a programming mistake). */
export class InvalidEventTypeError extends Error {
  override readonly name = 'InvalidEventTypeError';
}

export class CloudEventSink implements EventSink {
  readonly #source: string;
  readonly #emit: ((event: CloudEvent<unknown>) => Promise<unknown>) | undefined;
  readonly #webhooks: WebhookSender | undefined;
  readonly #onWebhookDelivery: NonNullable<CloudEventSinkOptions['onWebhookDelivery']>;
  readonly #newId: () => string;
  readonly #now: () => Date;

  constructor({
    functionName,
    sink,
    webhooks,
    fetch = globalThis.fetch,
    timeoutMs = 10_000,
    newId = randomUUID,
    now = () => new Date(),
    onWebhookDelivery = () => {},
  }: CloudEventSinkOptions) {
    if (sink === undefined && (webhooks === undefined || webhooks.urls.length === 0)) {
      throw new TypeError('CloudEventSink needs K_SINK or at least one webhook URL');
    }
    this.#source = `rekey/${functionName}`;
    if (sink !== undefined) {
      const url = new URL(sink);
      const transport: TransportFunction = (message) =>
        postEvent({
          url,
          headers: message.headers as Record<string, string>,
          body: String(message.body ?? ''),
          fetch,
          timeoutMs,
        });
      this.#emit = emitterFor(transport, { binding: HTTP, mode: Mode.BINARY });
    }
    if (webhooks !== undefined && webhooks.urls.length > 0) {
      this.#webhooks = createWebhookSender({ ...webhooks, fetch, timeoutMs });
    }
    this.#onWebhookDelivery = onWebhookDelivery;
    this.#newId = newId;
    this.#now = now;
  }

  /** Emits `dev.rekey.<type>` with `data`; the subject is the revision, when there is one. */
  async emit<T extends RekeyEventType>(type: T, data: RekeyEvents[T]): Promise<void> {
    if (!isRekeyEventType(type)) {
      throw new InvalidEventTypeError(`${JSON.stringify(type)} is not a type rekey emits`);
    }
    const id = this.#newId();
    const time = this.#now();
    const fullType = rekeyType(type);
    const revision = 'revision' in data ? data.revision : undefined;
    const event = new CloudEvent<unknown>({
      id,
      type: fullType,
      source: this.#source,
      time: time.toISOString(),
      datacontenttype: 'application/json',
      ...(revision ? { subject: revision } : {}),
      data,
    });

    const webhooks =
      this.#webhooks !== undefined && isPublicEventType(type)
        ? this.#webhooks({ id, type: fullType, timestamp: time, data }).then((outcomes) => {
            for (const o of outcomes) this.#onWebhookDelivery({ ...o, type: fullType, id });
          })
        : Promise.resolve();
    try {
      if (this.#emit !== undefined) await this.#emit(event);
    } catch (cause) {
      const retryAfter = retryAfterOf(cause);
      throw new TransientError(
        `could not deliver ${fullType} ${id}: ${cause instanceof Error ? cause.message : String(cause)}`,
        {
          ...(retryAfter !== undefined && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
          cause,
        },
      );
    } finally {
      // best effort, but finished within the emit, so a function is not frozen mid-delivery
      await webhooks;
    }
  }
}
