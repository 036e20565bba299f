// HTTP binding of cluster-event: Knative ApiServerSource deliveries (Reference mode only).
import type { Hono } from 'hono';
import { parseApiServerSourceEvent } from '../../shared/domain/events/apiserver-source.ts';
import { isParseError } from '../../shared/domain/events/kms-trigger.ts';
import { readCloudEvent } from '../../shared/http/cloudevent-intake.ts';
import type { RekeyEnv } from '../../shared/http/env.ts';
import { PermanentError } from '../../shared/http/errors.ts';
import { type ClusterEventDeps, handleClusterChange } from './handler.ts';

export function mountClusterEvent(
  app: Hono<RekeyEnv>,
  deps: ClusterEventDeps,
  path = '/cluster-event',
): void {
  app.post(path, async (c) => {
    const ce = await readCloudEvent(c);
    const change = parseApiServerSourceEvent({ type: ce.type, data: ce.data, source: ce.source });
    if (isParseError(change)) throw new PermanentError(change.error, { status: 422 });
    return c.json(await handleClusterChange(deps, change), 200);
  });
}
