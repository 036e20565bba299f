// Posts a CloudEvent where an external source's sink points: the Broker's ingress (or a function's
// public path). Binary mode, as TriggerMesh's and Knative's sources send; structured mode for an
// event that arrives as one JSON document (Eventarc's form).
import { randomUUID } from 'node:crypto';

export interface OutgoingEvent {
  type: string;
  source: string;
  id?: string;
  data: unknown;
  extensions?: Record<string, string>;
}

/** Posts `ev` in binary mode; returns the HTTP status. */
export async function publish(url: string, ev: OutgoingEvent): Promise<number> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'ce-specversion': '1.0',
    'ce-type': ev.type,
    'ce-source': ev.source,
    'ce-id': ev.id ?? randomUUID(),
  };
  for (const [k, v] of Object.entries(ev.extensions ?? {})) headers[`ce-${k}`] = v;
  const r = await fetch(url, { method: 'POST', headers, body: JSON.stringify(ev.data) });
  await r.arrayBuffer();
  return r.status;
}

/** Posts a whole CloudEvent document in structured mode; returns the HTTP status. */
export async function publishStructured(url: string, event: object): Promise<number> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/cloudevents+json' },
    body: JSON.stringify(event),
  });
  await r.arrayBuffer();
  return r.status;
}
