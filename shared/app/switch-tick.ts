// The declared EncryptionSwitch's tick as the reconcile function runs it on PingSource ticks
// (shared/core/drive-encryption-switch.ts): on the switch ports (built on first use), within the
// step budget, its log lines going to the function's logger.
import { type DriveSwitchResult, driveEncryptionSwitch } from '../core/drive-encryption-switch.ts';
import type { SwitchDeps } from '../core/switch-deps.ts';
import type { Logger } from '../observability/logger.ts';
import type { EncryptionSwitchStore } from '../ports/encryption-switches.ts';

export type SwitchPorts = () => { deps: SwitchDeps; switches: EncryptionSwitchStore };

export function switchTicker(
  ports: SwitchPorts,
  budgetMs: number | undefined,
  logger: Logger,
): () => Promise<DriveSwitchResult> {
  return async () => {
    const { deps, switches } = ports();
    return driveEncryptionSwitch(
      { switches, switching: { ...deps, log: (msg, f) => logger.info(f ?? {}, msg) } },
      { deadline: deps.clock.now().getTime() + (budgetMs ?? 60_000) },
    );
  };
}
