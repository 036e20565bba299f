// What a run of the encryption switch is asked, how long it may keep going, and what it answers:
// the contract `switchEncryption` (./switch-encryption.ts) and `rollbackSwitch`
// (./switch-rollback.ts) share with their callers, the CLI and the EncryptionSwitch tick. Kept
// apart so the files of each stage can answer in it without importing the stage machine.
import type { SwitchTarget } from '../domain/encryption-revisions/target.ts';

export interface SwitchRequest {
  /** Undefined: continue the switch in progress (or report there is none). */
  target?: SwitchTarget | undefined;
  /** Resource patterns; default the resources of the first entry of the running revision. */
  resources?: readonly string[] | undefined;
}

export interface SwitchRunOptions {
  /** Keep going (waiting for convergence) until Completed, Degraded or the deadline. */
  untilComplete: boolean;
  /** Epoch ms on deps.clock past which the run gives up (`timeout`). */
  deadline: number;
  /** How often convergence is read while waiting (default 5 s). */
  pollMs?: number;
  /** Called on every new fact worth a line (stage started, converged, migrated, ...). */
  onNote?: (line: string) => void;
}

export type SwitchOutcome =
  | { state: 'completed'; message: string }
  | { state: 'progressing'; message: string }
  | { state: 'degraded'; message: string }
  | { state: 'timeout'; message: string }
  | { state: 'unverifiable'; message: string };
