// Executable entry for the sandbox KMS v2 plugin, the process a kube-apiserver's
// EncryptionConfiguration points at. Also `rotate`, for shells; in-process callers use keyring.ts.
//
//   node test/support/kms-plugin/main.ts --socket <path> --keyring <dir> --instance <name>
//   node test/support/kms-plugin/main.ts rotate --keyring <dir> --instance a [--instance b ...]
import { parseArgs } from 'node:util';
import { rotate } from './keyring.ts';
import { startKmsPlugin } from './server.ts';

const USAGE = `usage:
  main.ts [serve] --socket <path> --keyring <dir> --instance <name>
  main.ts rotate --keyring <dir> --instance <name> [--instance <name> ...]`;

function log(event: Record<string, unknown>): void {
  // stdout carries only the machine-read ready line; everything else goes to stderr.
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
}

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

async function serve(socketPath: string, keyringDir: string, instance: string): Promise<void> {
  const plugin = await startKmsPlugin({ socketPath, keyringDir, instance, log });
  const shutdown = (signal: string) => {
    log({ level: 'info', msg: 'shutting down', signal, instance });
    plugin.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log({ level: 'error', msg: 'shutdown failed', error: String(err) });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.stdout.write(
    `${JSON.stringify({ ready: true, socket: socketPath, keyId: plugin.keyId, instance })}\n`,
  );
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      socket: { type: 'string' },
      keyring: { type: 'string' },
      instance: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const command = positionals[0] ?? 'serve';
  const instances = values.instance ?? [];
  if (!values.keyring) fail('--keyring is required');
  if (command === 'rotate') {
    if (instances.length === 0) fail('rotate needs at least one --instance');
    const keyId = await rotate(values.keyring, instances);
    process.stdout.write(`${JSON.stringify({ rotated: true, keyId, instances })}\n`);
    return;
  }
  if (command !== 'serve') fail(`unknown command ${command}`);
  if (!values.socket) fail('--socket is required');
  const [instance, ...extra] = instances;
  if (instance === undefined || extra.length > 0) fail('serve needs exactly one --instance');
  await serve(values.socket, values.keyring, instance);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  log({
    level: 'error',
    msg: 'kms plugin failed',
    error: err instanceof Error ? err.message : String(err),
  });
  process.exit(1);
});
