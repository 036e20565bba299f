// HTTP binding of the reconcile function: PingSource ticks and rekey's continuation events.
import type { Hono } from 'hono';
import { readCloudEvent } from '../../shared/http/cloudevent-intake.ts';
import type { RekeyEnv } from '../../shared/http/env.ts';
import { PermanentError } from '../../shared/http/errors.ts';
import { ACCEPTED_TYPES, accepts, handleReconcile, type ReconcileFnDeps } from './handler.ts';

export function mountReconcile(
  app: Hono<RekeyEnv>,
  deps: ReconcileFnDeps,
  path = '/reconcile',
): void {
  app.post(path, async (c) => {
    const ce = await readCloudEvent(c);
    if (!accepts(ce.type)) {
      throw new PermanentError(
        `unsupported event type ${ce.type}: expected ${ACCEPTED_TYPES.join(' or ')}`,
        {
          status: 422,
        },
      );
    }
    return c.json(await handleReconcile(deps, ce.type), 200);
  });
}
