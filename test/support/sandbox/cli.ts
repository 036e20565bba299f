// `npm run sandbox -- <build|up|status|rotate|plugin|down>`: drives the local control plane.
import { Command, InvalidArgumentError } from 'commander';
import { ensureKnativePrograms } from '../knative/build.ts';
import { upKnative } from '../knative/up.ts';
import { ensureOpenbao } from '../openbao/install.ts';
import { ensureBinaries } from './build.ts';
import { DEFAULT_ENCRYPT, parseEncryptList } from './encrypt-resources.ts';
import { defaultSandboxDir, readEnv } from './env-file.ts';
import { MANAGED_INITIAL, type ManagedInitial } from './managed-encryption.ts';
import {
  down,
  pluginStart,
  pluginStop,
  rotate,
  SANDBOX_KMS,
  type SandboxKms,
  status,
  up,
  waitForKeyId,
} from './sandbox.ts';

const log = (line: string) => process.stderr.write(`sandbox: ${line}\n`);

function indexList(value: string): number[] {
  const list = value.split(',').map((v) => Number(v));
  if (list.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new InvalidArgumentError('expected apiserver indexes such as 0 or 0,1');
  }
  return list;
}

function encryptList(value: string): string[] {
  try {
    return parseEncryptList(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function kmsChoice(value: string): SandboxKms {
  if (!(SANDBOX_KMS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`expected one of ${SANDBOX_KMS.join(', ')}`);
  }
  return value as SandboxKms;
}

function whole(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number >= 1');
  return n;
}

interface UpFlags {
  apiservers: number;
  encrypt: string[];
  kms: SandboxKms;
  managedEncryption?: boolean;
  initial: ManagedInitial;
}

function managedInitial(v: string): ManagedInitial {
  if (!(MANAGED_INITIAL as readonly string[]).includes(v)) {
    throw new InvalidArgumentError(`--initial must be one of ${MANAGED_INITIAL.join(', ')}`);
  }
  return v as ManagedInitial;
}

const program = new Command('sandbox')
  .description(
    'A real kube-apiserver + etcd + KMS v2 plugin on this machine, for rekey tests and demos.',
  )
  .option('--dir <path>', 'state folder (env.json, kubeconfig, logs)', defaultSandboxDir())
  .showHelpAfterError();

program
  .command('build')
  .description(
    'build (once per pin) kube-apiserver, etcd and kubectl, and the Knative Eventing programs, ' +
      'from their Go modules; install OpenBao',
  )
  .action(() => {
    const bins = ensureBinaries({ log });
    const bao = ensureOpenbao({ log });
    const knative = ensureKnativePrograms({ log });
    process.stdout.write(`${JSON.stringify({ ...bins, bao, knative }, null, 2)}\n`);
  });

program
  .command('up')
  .description('start etcd, the KMS plugin(s) and kube-apiserver(s); writes <dir>/env.json')
  .option('--apiservers <n>', 'how many kube-apiservers (each with its own plugin)', whole, 1)
  .option(
    '--encrypt <resources>',
    'comma list of EncryptionConfiguration resources the KMS provider encrypts, e.g. ' +
      'secrets,deployments.apps,widgets.example.com (a custom group gets a CRD), *. or *.*',
    encryptList,
    [...DEFAULT_ENCRYPT],
  )
  .option(
    '--kms <kms>',
    'what the plugins wrap with: keyring (local files) or openbao (a dev server, transit key; key_id = its latest version)',
    kmsChoice,
    'keyring',
  )
  .option(
    '--managed-encryption',
    'EncryptionConfiguration files rekey may change (one directory per apiserver), and a second kms provider sandbox-kms-b',
  )
  .option(
    '--initial <provider>',
    'with --managed-encryption: identity or kms',
    managedInitial,
    'kms',
  )
  .option(
    '--knative',
    "also run Knative Eventing's data plane (Broker, channel, sources) with infra/ and rekey's " +
      'functions on it (see "The real Knative tier" in the README)',
  )
  .action(async (o: UpFlags & { knative?: boolean }) => {
    const started = Date.now();
    const env = await up({
      dir: program.opts().dir,
      apiservers: o.apiservers,
      encrypt: o.encrypt,
      kms: o.kms,
      ...(o.managedEncryption ? { managedEncryption: { initial: o.initial } } : {}),
      log,
    });
    if (o.knative) {
      try {
        await upKnative(env, { log });
      } catch (err) {
        await down({ dir: env.dir }).catch(() => {});
        throw err;
      }
    }
    log(`up in ${((Date.now() - started) / 1000).toFixed(1)} s; kubeconfig: ${env.kubeconfig}`);
    process.stdout.write(`${JSON.stringify(env, null, 2)}\n`);
  });

program
  .command('status')
  .description("each apiserver's reported KMS key_id (from its metrics)")
  .action(async () => {
    const s = await status({ dir: program.opts().dir });
    process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
    if (s.some((x) => !x.up)) process.exitCode = 1;
  });

program
  .command('rotate')
  .description(
    'rotate the keyring key for the plugins (all by default), or the transit key on the OpenBao server; prints the key_id they now report',
  )
  .option('--only <indexes>', 'rotate only the plugins of these apiservers, e.g. 0', indexList)
  .option('--to <key_id>', 'roll back to this earlier key_id (as rotate or status printed it)')
  .option('--wait', 'wait until those apiservers report the new key_id')
  .option(
    '--provider <name>',
    "whose plugins: the sandbox's provider (default), or sandbox-kms-b with --managed-encryption",
  )
  .action(async (o: { only?: number[]; to?: string; wait?: boolean; provider?: string }) => {
    const dir = program.opts().dir;
    const keyId = await rotate({
      dir,
      ...(o.only ? { only: o.only } : {}),
      ...(o.to !== undefined ? { to: o.to } : {}),
      ...(o.provider ? { provider: o.provider } : {}),
    });
    process.stdout.write(`${keyId}\n`);
    if (o.wait) {
      const ms = await waitForKeyId(keyId, {
        dir,
        ...(o.only ? { only: o.only } : {}),
        ...(o.provider ? { provider: o.provider } : {}),
      });
      log(`apiservers report ${keyId} after ${(ms / 1000).toFixed(1)} s`);
    }
  });

program
  .command('plugin')
  .description('stop or start the KMS plugin of one apiserver (fault injection)')
  .argument('<action>', 'stop | start')
  .option('--index <i>', "which apiserver's plugin", (v) => indexList(v)[0] ?? 0, 0)
  .action(async (action: string, o: { index: number }) => {
    const dir = program.opts().dir;
    if (action === 'stop') await pluginStop({ dir, index: o.index });
    else if (action === 'start') await pluginStart({ dir, index: o.index });
    else throw new InvalidArgumentError(`unknown action ${action}: use stop or start`);
  });

program
  .command('env')
  .description('print env.json of the running sandbox')
  .action(() => {
    process.stdout.write(`${JSON.stringify(readEnv(program.opts().dir), null, 2)}\n`);
  });

program
  .command('down')
  .description('stop every sandbox process and remove its temporary data')
  .action(async () => {
    await down({ dir: program.opts().dir });
    log('down');
  });

try {
  await program.parseAsync();
} catch (err) {
  log(`error: ${(err as Error).message}`);
  process.exitCode = 2;
}
