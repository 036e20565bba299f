#!/usr/bin/env node
// The `rekey` CLI: composition root for people and scripts. Reads the environment and flags,
// builds the same core the functions use, and maps outcomes to exit codes (0 ok, 1 degraded or
// not verified, 2 usage or configuration error).
import { Command, CommanderError } from 'commander';
import { buildDeps } from '../../shared/adapters/build-deps.ts';
import { ConfigError, loadConfig } from '../../shared/config/config.ts';
import { FUNCTION_NAMES } from '../mount-all.ts';
import { startFunctions } from '../start.ts';
import { addSettingFlags, settingsFrom } from './options.ts';
import { EXIT, parseFormat, UsageError } from './output.ts';
import { reconcileCommand } from './reconcile.ts';
import { statusCommand } from './status.ts';
import { verifyCommand } from './verify.ts';

type Run = (built: ReturnType<typeof buildDeps>, opts: Record<string, unknown>) => Promise<number>;

function action(run: Run) {
  return async (opts: Record<string, unknown>) => {
    parseFormat(opts.output); // reject a bad --output before connecting anywhere
    const config = loadConfig(settingsFrom(opts, process.env));
    const built = buildDeps(config);
    try {
      process.exitCode = await run(built, opts);
    } finally {
      built.close();
    }
  };
}

const program = new Command('rekey')
  .description(
    'Re-encrypt Kubernetes objects after a KMS key rotation: waits until every kube-apiserver\n' +
      'adopted the new key_id, rewrites with no-op updates, and proves the result from etcd.',
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
      },
    ),
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
  startFunctions('serve', FUNCTION_NAMES, env);
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
    process.stderr.write(`rekey: ${(err as Error).message}\n`);
    process.exitCode = EXIT.notOk;
  }
}
