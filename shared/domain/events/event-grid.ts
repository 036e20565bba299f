// Azure Event Grid's own delivery schema (the default of an Event Grid subscription): every POST
// is a JSON array of events `{ id, topic, subject, eventType, eventTime, data, dataVersion }`, and
// the subscription is validated first by a `Microsoft.EventGrid.SubscriptionValidationEvent`
// whose `data.validationCode` must be echoed back as `{ "validationResponse": <code> }`
// (docs/kms-facts.md §9). Pure: no I/O; never throws.
import { z } from 'zod';
import { parseAzureEvent } from './azure.ts';
import { clip, describeIssues, isRecord, type KmsTriggerResult } from './kms-trigger.ts';

export const SUBSCRIPTION_VALIDATION_EVENT = 'Microsoft.EventGrid.SubscriptionValidationEvent';

/** Most events one delivery may carry (the subscription's "max events per batch"). */
export const MAX_EVENT_GRID_BATCH = 50;

const EventGridEvent = z.object({
  id: z.string().min(1),
  eventType: z.string().min(1),
  eventTime: z.string().min(1),
  subject: z.string().nullish(),
  topic: z.string().nullish(),
  data: z.unknown(),
});

const ValidationData = z.object({ validationCode: z.string().min(1).max(200) });

/** One event of a delivery: a subscription validation, or a Key Vault event's trigger. */
export type EventGridItem = { validationCode: string } | { id: string; trigger: KmsTriggerResult };

export type EventGridDelivery = { items: EventGridItem[] } | { error: string; status: 413 | 422 };

function itemOf(value: unknown, n: number): EventGridItem {
  const parsed = EventGridEvent.safeParse(value);
  if (!parsed.success) {
    return {
      id: `#${n}`,
      trigger: describeIssues(`malformed Event Grid event #${n}`, parsed.error),
    };
  }
  const ev = parsed.data;
  if (ev.eventType === SUBSCRIPTION_VALIDATION_EVENT) {
    const data = ValidationData.safeParse(ev.data);
    if (data.success) return { validationCode: data.data.validationCode };
    return { id: clip(ev.id), trigger: describeIssues('malformed validation event', data.error) };
  }
  const trigger = parseAzureEvent({ type: ev.eventType, time: ev.eventTime, data: ev.data });
  return { id: clip(ev.id), trigger };
}

/**
 * A parsed Event Grid schema body as its items, in order. Not an array, empty, or longer than
 * {@link MAX_EVENT_GRID_BATCH}: an error with the status to answer.
 */
export function parseEventGridDelivery(body: unknown): EventGridDelivery {
  if (!Array.isArray(body)) {
    return {
      error: isRecord(body)
        ? 'an Event Grid schema delivery is a JSON array of events (a single object is not)'
        : 'an Event Grid schema delivery is a JSON array of events',
      status: 422,
    };
  }
  if (body.length === 0) return { error: 'an empty array of events', status: 422 };
  if (body.length > MAX_EVENT_GRID_BATCH) {
    return {
      error: `${body.length} events in one delivery; at most ${MAX_EVENT_GRID_BATCH} (set the subscription's max events per batch lower)`,
      status: 413,
    };
  }
  return { items: body.map((ev, i) => itemOf(ev, i + 1)) };
}
