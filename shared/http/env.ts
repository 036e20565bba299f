// The per-request values rekey's middleware share through hono's context (`c.get` / `c.set`).
// Only identifiers live here (event id, traceparent, sender name), never bodies or credentials,
// because the request logger writes them out.

import type { EventOutcome } from '../observability/metrics.ts';

/** Who sent a request, as sender authentication established it. */
export interface SenderIdentity {
  /** `system:serviceaccount:<namespace>:<name>` for a Knative sender. */
  username: string;
  uid?: string;
  groups?: string[];
}

/** Variables on the context of every request a rekey app serves. */
export type RekeyVariables = {
  /** The CloudEvent id (binary `ce-id` or structured `id`), once known. */
  ceId?: string;
  /** The CloudEvent type, once known; `invalid` when the request was not a readable event. */
  ceType?: string;
  /** W3C trace context of the request or event, when sent. */
  traceparent?: string;
  /** The Standard Webhooks `webhook-id`, once verified. */
  webhookId?: string;
  /** Set by sender authentication when it is on. */
  sender?: SenderIdentity;
  /** A handler may override the outcome the app derives from the status (e.g. `duplicate`). */
  eventOutcome?: EventOutcome;
};

/** The hono environment type of every rekey app: `new Hono<RekeyEnv>()`. */
export type RekeyEnv = {
  Variables: RekeyVariables;
};
