// A binary-mode CloudEvent POST, as an event source sends one: to the Broker's ingress (what
// at-least-once delivery may repeat or delay) or to a function a cloud source calls directly.
// With `retries`, a source's retry policy: again on 5xx, 404, 408, 409 and 429 (Knative's retry
// statuses), after the answer's Retry-After or an exponential backoff.
const RETRIED = new Set([404, 408, 409, 429]);

export interface SourceEvent {
  type: string;
  source: string;
  id: string;
  data: unknown;
  extensions?: Record<string, string>;
}

export async function postEvent(
  url: string,
  ev: SourceEvent,
  { retries = 0, backoffMs = 1000 } = {},
): Promise<{ status: number; body: string; attempts: number }> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'ce-specversion': '1.0',
    'ce-type': ev.type,
    'ce-source': ev.source,
    'ce-id': ev.id,
  };
  for (const [k, v] of Object.entries(ev.extensions ?? {})) headers[`ce-${k}`] = v;
  for (let attempt = 0; ; attempt++) {
    const r = await fetch(url, { method: 'POST', headers, body: JSON.stringify(ev.data) });
    const body = await r.text();
    const retry = r.status >= 500 || RETRIED.has(r.status);
    if (!retry || attempt >= retries) return { status: r.status, body, attempts: attempt + 1 };
    const after = Number(r.headers.get('retry-after'));
    const waitMs = Number.isFinite(after) && after > 0 ? after * 1000 : backoffMs * 2 ** attempt;
    await new Promise((res) => setTimeout(res, waitMs));
  }
}
