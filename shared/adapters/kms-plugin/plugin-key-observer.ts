// The KeyObserver port straight from KMS plugin sockets (rekey running on a control-plane node,
// or next to the sandbox): each plugin's Status is an observation.
import type { Observation } from '../../domain/observation.ts';
import type { Clock } from '../../ports/clock.ts';
import type { KeyObservation, KeyObserver } from '../../ports/key-observer.ts';
import { createKmsPluginClient, statusProblems } from './status-client.ts';

export function createPluginKeyObserver({
  sockets,
  clock,
  timeoutMs = 3000,
}: {
  sockets: readonly string[];
  clock: Clock;
  timeoutMs?: number;
}): KeyObserver {
  return {
    async observe(provider): Promise<KeyObservation> {
      const problems: string[] = [];
      const observations: Observation[] = [];
      for (const socketPath of sockets) {
        const client = createKmsPluginClient({ socketPath, timeoutMs });
        try {
          const s = await client.status();
          const bad = statusProblems(s);
          if (bad.length) problems.push(`${socketPath}: ${bad.join(', ')}`);
          else
            observations.push({
              provider,
              keyId: s.keyId,
              source: 'plugin-status',
              observedAt: clock.now().toISOString(),
            });
        } catch (err) {
          problems.push(`${socketPath}: ${(err as Error).message}`);
        } finally {
          client.close();
        }
      }
      if (problems.length)
        return { observations, pluginHealth: { status: 'unhealthy', reason: problems.join('; ') } };
      return { observations, pluginHealth: { status: 'healthy' } };
    },
  };
}
