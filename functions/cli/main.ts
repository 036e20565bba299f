#!/usr/bin/env node
// The `rekey` CLI: the entry point for people and scripts. Reads the environment and flags, gets
// the same composition the functions use (shared/app), and maps outcomes to exit codes (0 ok,
// 1 degraded or not verified, 2 usage or configuration error).
import { Command, CommanderError } from 'commander';
import { composeApp, FUNCTION_NAMES, type RekeyApp } from '../../shared/app/compose.ts';
import { ConfigError, loadConfig } from '../../shared/config/config.ts';
import { requireProvider } from '../../shared/core/followed-provider.ts';
import { mountClusterEvent } from '../cluster-event/route.ts';
import { mountKmsEvent } from '../kms-event/route.ts';
import { mountReconcile } from '../reconcile/route.ts';
import { startFunctions } from '../start.ts';
import { mountWebhook } from '../webhook/route.ts';
import { encryptionStatusCommand, rollbackCommand, switchCommand } from './encryption.ts';
import { keysCommand, retireCommand } from './keys.ts';
import { addSettingFlags, settingsFrom } from './options.ts';
import { EXIT, parseFormat, UsageError } from './output.ts';
import { planCommand } from './plan.ts';
import { reconcileCommand } from './reconcile.ts';
import { statusCommand } from './status.ts';
import { parseTimeout } from './timeout.ts';
import { verifyCommand } from './verify.ts';

type Run = (rekey: RekeyApp, opts: Record<string, unknown>) => Promise<number>;

function action(run: Run) {
  return async (opts: Record<string, unknown>) => {
    parseFormat(opts.output); // reject a bad --output before connecting anywhere
    const rekey = composeApp(loadConfig(settingsFrom(opts, process.env)));
    try {
      process.exitCode = await run(rekey, opts);
    } finally {
      rekey.close();
    }
  };
}

const program = new Command('rekey')
  .description(
    'Re-encrypt Kubernetes objects after a KMS key rotation: waits until every kube-apiserver ' +
      'adopted the new key_id, rewrites with no-op updates, and proves the result from etcd.\n\n' +
      'Every setting is a flag or an environment variable (see each command --help).\n' +
      'Exit codes: 0 done and verified (safe to act on), 1 degraded or the old key is still needed,\n' +
      '2 usage or configuration error, 3 not finished within --timeout, 4 finished but not verifiable.',
  )
  .showHelpAfterError()
  .exitOverride();

addSettingFlags(
  program
    .command('status')
    .description('revisions, phases, progress, and which key_id each apiserver reports'),
).action(action((b, o) => statusCommand(b.deps, b.reconcile, parseFormat(o.output))));

addSettingFlags(
  program
    .command('verify')
    .description('scan etcd: is every object in scope under the newest key_id?'),
).action(action((b, o) => verifyCommand(b.deps, b.reconcile, parseFormat(o.output))));

addSettingFlags(
  program
    .command('reconcile')
    .description(
      'observe the key_id, record a revision, wait for adoption, migrate a slice, verify',
    )
    .option('--until-complete', 'repeat steps until Completed or Degraded for good')
    .option(
      '--timeout <duration>',
      'with --until-complete: give up (exit 3) after 90s, 20m, 1h or seconds',
      '30m',
    )
    .option(
      '--force',
      'rewrite every object with a real change (new resourceVersions, watch events), for providers whose key_id hides a rotation',
    ),
).action(
  action((b, o) =>
    reconcileCommand(
      b.deps,
      { ...b.reconcile, force: o.force === true },
      {
        format: parseFormat(o.output),
        untilComplete: o.untilComplete === true,
        timeoutMs: parseTimeout(o.timeout),
      },
    ),
  ),
);

addSettingFlags(
  program
    .command('plan')
    .description('dry run: what a migration to the current key_id would rewrite, per namespace'),
).action(action((b, o) => planCommand(b.deps, b.reconcile, parseFormat(o.output))));

addSettingFlags(
  program
    .command('migrate')
    .description(
      'observe, wait for adoption, migrate and verify until done; always resumes from the checkpoint',
    )
    .option(
      '--resume',
      'continue an interrupted migration (the default: progress is checkpointed per page)',
    )
    .option('--timeout <duration>', 'give up (exit 3) after 90s, 20m, 1h or seconds', '30m'),
).action(
  action((b, o) =>
    reconcileCommand(b.deps, b.reconcile, {
      format: parseFormat(o.output),
      untilComplete: true,
      timeoutMs: parseTimeout(o.timeout),
    }),
  ),
);

addSettingFlags(
  program
    .command('keys')
    .description(
      'every key_id (and other encryption) found in etcd, with object counts, read without decrypting',
    )
    .option(
      '--retire <key_id>',
      "can this key_id be disabled now (no kms provider's value or apiserver needs it)? exit 0 yes, 1 no (names what needs it), 4 can't tell",
    ),
).action(
  action(async (b, o) => {
    const format = parseFormat(o.output);
    if (typeof o.retire === 'string') return retireCommand(b.deps, b.reconcile, o.retire, format);
    return keysCommand(
      b.deps,
      format,
      b.transitKey
        ? { provider: await requireProvider(b.deps, b.reconcile), reader: b.transitKey }
        : undefined,
    );
  }),
);

addSettingFlags(
  program
    .command('rotate')
    .description(
      'rotate the KMS key behind the provider now (AWS on demand, GCP new primary version, Vault/OpenBao transit new version)',
    ),
).action(
  action(async (b, o) => {
    const rotator = b.rotator;
    if (!rotator) {
      throw new UsageError(
        'rotate needs REKEY_KMS_KEY (or --kms-key): an AWS key ARN, a GCP CryptoKey name, or a Vault transit key <mount>/keys/<name> with REKEY_VAULT_ADDR and REKEY_VAULT_TOKEN_FILE',
      );
    }
    const r = await rotator.rotate();
    if (parseFormat(o.output) === 'json') process.stdout.write(`${JSON.stringify(r)}\n`);
    else
      process.stdout.write(
        `rotated ${r.key}: now ${r.current}\nrun \`rekey migrate\` to move the data once the plugins report it\n`,
      );
    return EXIT.ok;
  }),
);

const encryption = program
  .command('encryption')
  .description(
    'change the providers of the EncryptionConfiguration, in stages every apiserver agrees on',
  );

addSettingFlags(
  encryption
    .command('switch')
    .description(
      'add the target as a read provider, make it the write provider, migrate and prove, remove the old one (each stage converged on every apiserver)',
    )
    .requiredOption('--to <target>', 'identity, aescbc, secretbox or kms:<provider name>')
    .option('--until-complete', 'keep going until every stage is done, or Degraded')
    .option('--timeout <duration>', 'give up (exit 3) after 90s, 20m, 1h or seconds', '30m'),
).action(
  action((b, o) =>
    switchCommand(b.encryption(), o.to, o.resources, {
      format: parseFormat(o.output),
      untilComplete: o.untilComplete === true,
      timeoutMs: parseTimeout(o.timeout),
    }),
  ),
);

addSettingFlags(
  encryption
    .command('status')
    .description(
      "every configuration revision, its stage, each apiserver's applied hash, and the declared EncryptionSwitch's conditions",
    ),
).action(
  action((b, o) =>
    encryptionStatusCommand(b.encryption(), parseFormat(o.output), b.encryptionSwitches()),
  ),
);

addSettingFlags(
  encryption
    .command('rollback')
    .description('go back to the previous applied configuration revision')
    .option('--until-complete', 'wait until every apiserver runs it')
    .option('--timeout <duration>', 'give up (exit 3) after 90s, 20m, 1h or seconds', '30m'),
).action(
  action((b, o) =>
    rollbackCommand(b.encryption(), {
      format: parseFormat(o.output),
      untilComplete: o.untilComplete === true,
      timeoutMs: parseTimeout(o.timeout),
    }),
  ),
);

addSettingFlags(
  program
    .command('serve')
    .description(
      'host every function (/kms-event, /cluster-event, /webhook, /reconcile) on one local server',
    )
    .option('--port <port>', 'port to listen on [$PORT]'),
).action((o: Record<string, unknown>) => {
  const env = settingsFrom(o, process.env);
  if (typeof o.port === 'string') env.PORT = o.port;
  // the same routes the four Knative Services serve, each at its own path, on one app
  startFunctions('serve', env, (config) => {
    const fns = composeApp(config).functions('serve', FUNCTION_NAMES);
    mountKmsEvent(fns.http, fns.kmsEvent);
    mountClusterEvent(fns.http, fns.clusterEvent);
    mountReconcile(fns.http, fns.reconcile);
    if (fns.webhook) mountWebhook(fns.http, fns.webhook.deps, fns.webhook.verify);
    return fns;
  });
});

try {
  await program.parseAsync();
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else if (err instanceof ConfigError || err instanceof UsageError) {
    process.stderr.write(`rekey: ${err.message}\n`);
    process.exitCode = EXIT.usage;
  } else {
    // network errors say only "fetch failed": the cause names the address and the reason
    const cause = (err as Error).cause as { message?: string; code?: string } | undefined;
    const why = cause ? `: ${cause.code ?? ''} ${cause.message ?? ''}`.trimEnd() : '';
    process.stderr.write(`rekey: ${(err as Error).message}${why}\n`);
    process.exitCode = EXIT.notOk;
  }
}
