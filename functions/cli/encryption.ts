// `rekey encryption switch|status|rollback`: changing the providers of the EncryptionConfiguration
// in stages (shared/core/switch-encryption.ts). Prints revision numbers, stages, states and
// hashes, never a revision's text (it may hold local keys). Exit codes: functions/cli/output.ts
// (0 completed, 1 degraded or not finished yet, 2 refused, 3 --timeout, 4 not provable).
import type { SwitchDeps } from '../../shared/core/switch-deps.ts';
import {
  rollbackSwitch,
  type SwitchOutcome,
  switchEncryption,
} from '../../shared/core/switch-encryption.ts';
import { ENCRYPTION_SWITCH_NAME } from '../../shared/domain/encryption-revisions/switch-spec.ts';
import { desiredRevision } from '../../shared/domain/encryption-revisions/switch-state.ts';
import {
  parseSwitchTarget,
  SwitchTargetError,
} from '../../shared/domain/encryption-revisions/target.ts';
import type {
  EncryptionSwitchStore,
  StoredEncryptionSwitch,
} from '../../shared/ports/encryption-switches.ts';
import {
  EXIT,
  type ExitCode,
  type Format,
  printJson,
  printTable,
  UsageError,
  verdict,
} from './output.ts';

const CODE: Record<SwitchOutcome['state'], ExitCode> = {
  completed: EXIT.ok,
  progressing: EXIT.notOk,
  degraded: EXIT.notOk,
  timeout: EXIT.timeout,
  unverifiable: EXIT.unverifiable,
};

export interface RunFlags {
  format: Format;
  untilComplete: boolean;
  timeoutMs: number;
}

function finish(outcome: SwitchOutcome, format: Format): ExitCode {
  const code = CODE[outcome.state];
  if (format === 'json') printJson({ ...outcome, ...verdict(code) });
  else process.stdout.write(`${outcome.state}: ${outcome.message}\n`);
  return code;
}

async function refusalsAsUsage<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof SwitchTargetError) throw new UsageError(err.message);
    throw err;
  }
}

const noteTo = (format: Format) => (line: string) => {
  if (format === 'text') process.stdout.write(`${new Date().toISOString()} ${line}\n`);
};

export async function switchCommand(
  deps: SwitchDeps,
  to: unknown,
  resources: unknown,
  flags: RunFlags,
): Promise<number> {
  if (typeof to !== 'string')
    throw new UsageError('--to is required: identity, aescbc, secretbox or kms:<name>');
  const target = await refusalsAsUsage(async () => parseSwitchTarget(to));
  const list =
    typeof resources === 'string'
      ? resources
          .split(',')
          .map((r) => r.trim())
          .filter((r) => r !== '')
      : undefined;
  const outcome = await refusalsAsUsage(() =>
    switchEncryption(
      deps,
      { target, ...(list ? { resources: list } : {}) },
      {
        untilComplete: flags.untilComplete,
        deadline: deps.clock.now().getTime() + flags.timeoutMs,
        onNote: noteTo(flags.format),
      },
    ),
  );
  return finish(outcome, flags.format);
}

export async function rollbackCommand(deps: SwitchDeps, flags: RunFlags): Promise<number> {
  const outcome = await refusalsAsUsage(() =>
    rollbackSwitch(deps, {
      untilComplete: flags.untilComplete,
      deadline: deps.clock.now().getTime() + flags.timeoutMs,
      onNote: noteTo(flags.format),
    }),
  );
  return finish(outcome, flags.format);
}

/** The declared EncryptionSwitch, or why it could not be read (never a reason to fail status). */
async function readDeclared(
  switches: EncryptionSwitchStore | undefined,
): Promise<{ object: StoredEncryptionSwitch | null; unreadable?: string }> {
  if (!switches) return { object: null };
  try {
    return { object: (await switches.get(ENCRYPTION_SWITCH_NAME)) ?? null };
  } catch (err) {
    return { object: null, unreadable: (err as Error).message };
  }
}

function printDeclared(d: { object: StoredEncryptionSwitch | null; unreadable?: string }): void {
  if (d.unreadable) {
    process.stdout.write(
      `\nEncryptionSwitch ${ENCRYPTION_SWITCH_NAME}: unreadable (${d.unreadable})\n`,
    );
    return;
  }
  if (!d.object) {
    process.stdout.write(`\nEncryptionSwitch ${ENCRYPTION_SWITCH_NAME}: none declared\n`);
    return;
  }
  const { spec, status, generation } = d.object;
  const target = (spec as { target?: unknown } | undefined)?.target;
  process.stdout.write(
    `\nEncryptionSwitch ${ENCRYPTION_SWITCH_NAME}: target ${String(target)}, generation ${generation}, ` +
      `observed ${status?.observedGeneration ?? 'never'}, stage ${status?.stage ?? 'none yet'}\n`,
  );
  printTable([
    ['CONDITION', 'STATUS', 'REASON', 'SINCE', 'MESSAGE'],
    ...(status?.conditions ?? []).map((c) => [
      c.type,
      c.status,
      c.reason,
      c.lastTransitionTime,
      c.message.slice(0, 120),
    ]),
  ]);
}

/**
 * Every revision with its stage and state, each apiserver's applied hash, each node's write, and
 * the declared EncryptionSwitch with its conditions.
 */
export async function encryptionStatusCommand(
  deps: SwitchDeps,
  format: Format,
  switches?: EncryptionSwitchStore,
): Promise<number> {
  const [stored, nodes, apiservers, declared] = await Promise.all([
    deps.revisions.list(),
    deps.nodes.list(),
    deps.apiservers.read(),
    readDeclared(switches),
  ]);
  const revisions = stored.map((s) => s.record).sort((a, b) => a.number - b.number);
  const desired = desiredRevision(revisions);
  const byNode = new Map(nodes.map((n) => [n.node, n]));
  const servers = apiservers.live.map((a) => {
    const w = a.node ? byNode.get(a.node) : undefined;
    return {
      apiserver: a.id,
      node: a.node ?? null,
      applied: a.applied ?? null,
      reloadFailures: a.reloadFailures,
      nodeRevision: w?.revision ?? null,
      nodeHash: w?.hash ?? null,
      nodeError: w?.error ?? null,
      onNodeHash: a.applied !== undefined && a.applied === w?.hash,
    };
  });
  if (format === 'json') {
    printJson({
      desired: desired?.number ?? null,
      revisions,
      apiservers: servers,
      nodes,
      declared: declared.object
        ? {
            name: declared.object.name,
            generation: declared.object.generation,
            spec: declared.object.spec,
            status: declared.object.status ?? null,
          }
        : null,
      ...(declared.unreadable ? { declaredUnreadable: declared.unreadable } : {}),
    });
    return EXIT.ok;
  }
  printTable([
    ['REVISION', 'STAGE', 'STATE', 'SWITCH', 'MIGRATION', 'HASH', 'DEGRADED'],
    ...revisions.map((r) => [
      `${r.number}${r.number === desired?.number ? '*' : ''}`,
      r.stage,
      r.state,
      r.switch ? `${r.switch.from} -> ${r.switch.to}` : '',
      r.migration ?? '',
      r.hash.slice(0, 19),
      r.degraded ?? '',
    ]),
  ]);
  process.stdout.write('\n');
  printTable([
    ['NODE', 'APISERVER', 'APPLIED', 'NODE WROTE', 'ON IT', 'RELOAD FAILURES'],
    ...servers.map((s) => [
      s.node ?? '?',
      s.apiserver.slice(0, 19),
      (s.applied ?? 'none').slice(0, 19),
      s.nodeError
        ? `revision ${s.nodeRevision}: ${s.nodeError}`
        : s.nodeRevision
          ? `revision ${s.nodeRevision} ${(s.nodeHash ?? '').slice(0, 19)}`
          : 'nothing',
      s.onNodeHash ? 'yes' : 'no',
      String(s.reloadFailures),
    ]),
  ]);
  if (!apiservers.readable) process.stdout.write(`\nnote: ${apiservers.unreadableReason}\n`);
  if (switches) printDeclared(declared);
  return EXIT.ok;
}
