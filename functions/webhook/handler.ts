// webhook: signed callbacks (CI, Vault tooling, a person's "rotate now"), already verified by the
// Standard Webhooks layer. Commands: reconcile (one step), status, rotate (only where a KMS adapter
// can rotate the key; otherwise a clear 422).
import { z } from 'zod';
import type { TriggeredStep } from '../../shared/app/hand-off.ts';
import { PermanentError } from '../../shared/http/errors.ts';

export const webhookCommand = z.object({
  command: z.enum(['reconcile', 'status', 'rotate']),
  provider: z.string().min(1).optional(),
});
export type WebhookCommand = z.infer<typeof webhookCommand>;

export interface WebhookDeps {
  provider: string;
  /**
   * When REKEY_PROVIDER pins none: the provider followed now (the nodes' write provider), which a
   * command naming a provider is compared with; throws when none can be followed.
   */
  followedProvider?: () => Promise<string>;
  step(): Promise<TriggeredStep>;
  status(): Promise<unknown>;
  /** Absent when no KMS adapter that can rotate is configured for the provider. */
  rotate?: () => Promise<unknown>;
}

export function parseCommand(body: unknown): WebhookCommand {
  const r = webhookCommand.safeParse(body);
  if (!r.success) {
    const what = r.error.issues
      .map((i) => `${i.path.join('.') || 'body'}: ${i.message}`)
      .join('; ');
    throw new PermanentError(`invalid webhook command: ${what}`, { status: 422 });
  }
  return r.data;
}

export async function handleWebhook(deps: WebhookDeps, cmd: WebhookCommand): Promise<unknown> {
  if (cmd.provider !== undefined) {
    const serves = deps.followedProvider ? await deps.followedProvider() : deps.provider;
    if (cmd.provider !== serves) {
      throw new PermanentError(`this rekey serves provider "${serves}", not "${cmd.provider}"`, {
        status: 422,
      });
    }
  }
  if (cmd.command === 'reconcile') return { command: 'reconcile', outcome: await deps.step() };
  if (cmd.command === 'status') return { command: 'status', status: await deps.status() };
  if (!deps.rotate) {
    throw new PermanentError(
      `rotate: no KMS adapter that can rotate is configured for provider "${deps.provider}"`,
      { status: 422 },
    );
  }
  return { command: 'rotate', result: await deps.rotate() };
}
