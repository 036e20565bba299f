// What every action of a reconcile step shares, and how an action answers the loop that runs it
// (shared/core/reconcile-step.ts): either the step is over, or the state machine decides again,
// with what the action learnt that the revision does not record.
import type { PluginHealth } from '../domain/phase.ts';
import type { Revision } from '../domain/revision.ts';
import type { ProviderConfig, ReconcileDeps } from './deps.ts';
import type { LeaseSession } from './lease-session.ts';
import type { Scope } from './resolve-scope.ts';
import type { RevisionSession } from './revision-session.ts';
import type { StepStop, StopReason } from './step-stop.ts';

export interface StepContext {
  deps: ReconcileDeps;
  config: ProviderConfig;
  session: RevisionSession;
  lease: LeaseSession;
  scope: Scope;
  plugin: PluginHealth;
  /** Epoch ms after which no new page is started. */
  deadline: number;
  /** Ends the step where it stands: the Lease lost or the hard deadline passed (step-stop.ts). */
  stop: StepStop;
  /** The revision as the step found it: a cause of Degraded is announced once, not every step. */
  began: Pick<Revision, 'phase' | 'lastError'>;
}

/** Facts of this step only: a later trigger tries again, so they are inputs, not records. */
export interface Learnt {
  /** A list was refused for good: the reason, naming the resource. */
  listRefused?: string;
  /** etcd could not be scanned just now: why. */
  etcdUnavailable?: string;
  /** The apiserver kept failing a list or a patch transiently past the attempts: what it said. */
  apiUnavailable?: string;
  /** A retry pass ran in this step: one per step, whatever asked for it. */
  retried?: true;
}

/**
 * `done`: the step is over (`more`: there is work right now; `stopped`: it was cut short).
 * Otherwise decide again.
 */
export type ActionResult =
  | { done: true; more: boolean; stopped?: StopReason }
  | { done: false; learnt?: Learnt };
