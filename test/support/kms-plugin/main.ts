// Executable entry for the sandbox KMS v2 plugin, the process a kube-apiserver's
// EncryptionConfiguration points at. Also `rotate`, for shells; in-process callers use keyring.ts.
//
//   node test/support/kms-plugin/main.ts --socket <path> --keyring <dir> --instance <name>
//        [--backend aws|gcp --endpoint <url|host:port> --key <key ARN|CryptoKey name>]
//        [--backend transit --endpoint <Vault/OpenBao URL> --key <mount>/keys/<name> --token-file <f>]
//   node test/support/kms-plugin/main.ts rotate --keyring <dir> --instance a [--instance b ...]
import { parseArgs } from 'node:util';
import { createAwsKms } from '../../../shared/adapters/aws-kms/index.ts';
import { localKmsClientOptions } from '../../../shared/adapters/gcp-kms/client.ts';
import { createGcpKms } from '../../../shared/adapters/gcp-kms/gcp-kms.ts';
import { createVaultTransit } from '../../../shared/adapters/vault-transit/client.ts';
import { awsBackend } from './backends/aws-backend.ts';
import type { KeyBackend } from './backends/backend.ts';
import { gcpBackend } from './backends/gcp-backend.ts';
import { transitBackend } from './backends/transit-backend.ts';
import { rotate } from './keyring.ts';
import { startKmsPlugin } from './server.ts';

/** A KMS backend against a local endpoint (the sandbox has no real cloud). */
function cloudBackend(kind: string, endpoint: string, key: string, tokenFile?: string): KeyBackend {
  if (kind === 'aws') {
    const region = key.split(':')[3] || 'us-east-1';
    // the local endpoint checks that requests are SigV4-signed, not by whom
    const credentials = { accessKeyId: 'rekey-sandbox', secretAccessKey: 'rekey-sandbox' };
    return awsBackend(createAwsKms({ endpoint, region, credentials }), key);
  }
  if (kind === 'gcp') return gcpBackend(createGcpKms(localKmsClientOptions(endpoint)), key);
  if (kind === 'transit') {
    if (!tokenFile) throw new Error('--backend transit needs --token-file');
    return transitBackend(createVaultTransit({ address: endpoint, tokenFile }), key);
  }
  throw new Error(`unknown --backend ${kind}: use keyring, aws, gcp or transit`);
}

const USAGE = `usage:
  main.ts [serve] --socket <path> --keyring <dir> --instance <name> [--backend aws|gcp|transit --endpoint <e> --key <k> [--token-file <f>]]
  main.ts rotate --keyring <dir> --instance <name> [--instance <name> ...]`;

function log(event: Record<string, unknown>): void {
  // stdout carries only the machine-read ready line; everything else goes to stderr.
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
}

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

async function serve(
  socketPath: string,
  keyringDir: string,
  instance: string,
  backend?: KeyBackend,
): Promise<void> {
  const plugin = await startKmsPlugin({
    socketPath,
    keyringDir,
    instance,
    log,
    ...(backend ? { backend } : {}),
  });
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
      backend: { type: 'string' },
      endpoint: { type: 'string' },
      key: { type: 'string' },
      'token-file': { type: 'string' },
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
  const kind = values.backend ?? 'keyring';
  let backend: KeyBackend | undefined;
  if (kind !== 'keyring') {
    if (!values.endpoint || !values.key) fail(`--backend ${kind} needs --endpoint and --key`);
    backend = cloudBackend(kind, values.endpoint, values.key, values['token-file']);
  }
  await serve(values.socket, values.keyring, instance, backend);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  log({
    level: 'error',
    msg: 'kms plugin failed',
    error: err instanceof Error ? err.message : String(err),
  });
  process.exit(1);
});
