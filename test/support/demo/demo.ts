// `npm run demo`: a real rotation on the local sandbox, end to end. Starts the control plane,
// seeds secrets, runs rekey's functions locally (`rekey serve`, as its least-privilege identity),
// rotates the KMS key, delivers the key-id report's change as Knative's ApiServerSource would, and
// shows the migration to completion until etcd proves every secret is under the new key.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SingleBar } from 'cli-progress';
import { keyIdHash } from '../../../shared/domain/key-id.ts';
import { summariseProgress } from '../../../shared/domain/migration-progress.ts';
import { deliver } from '../knative-broker.ts';
import { coreApi, kubeConfig } from '../kube.ts';
import { rekeyFor, STATE_NAMESPACE } from '../rekey-fixture.ts';
import { serveRekey } from '../rekey-serve.ts';
import { defaultSandboxDir } from '../sandbox/env-file.ts';
import { down, rotate, up } from '../sandbox/sandbox.ts';
import { seedMany } from '../seed.ts';

const CLI = fileURLToPath(new URL('../../../functions/cli/main.ts', import.meta.url));
const SECRETS = Number(process.env.DEMO_SECRETS ?? 2000);
const say = (s: string) => process.stdout.write(`\n\x1b[1m==> ${s}\x1b[0m\n`);

const dir = defaultSandboxDir();
say(`starting the sandbox in ${dir} (kube-apiserver + etcd + KMS v2 plugin)`);
await down({ dir });
const env = await up({ dir, log: (l) => process.stdout.write(`    ${l}\n`) });

say(`seeding ${SECRETS} secrets in 10 namespaces`);
await seedMany(coreApi(env), {
  namespaces: 10,
  perNamespace: Math.ceil(SECRETS / 10),
  prefix: 'demo',
});

const kubeconfig = join(dir, 'kubeconfig-rekey');
writeFileSync(kubeconfig, kubeConfig(env, { user: 'rekey' }).exportConfig(), { mode: 0o600 });
const rekeyEnv = {
  ...process.env,
  KUBECONFIG: kubeconfig,
  REKEY_PROVIDER: env.kms.providerName,
  REKEY_STATE_NAMESPACE: STATE_NAMESPACE,
  // no REKEY_RESOURCES: the scope comes from the EncryptionConfiguration the reporters read
  REKEY_APISERVER_URLS: env.apiservers.map((a) => a.url).join(','),
  REKEY_ETCD_ENDPOINTS: env.etcd.url,
};
const rekey = (...args: string[]) => {
  process.stdout.write(`    $ rekey ${args.join(' ')}\n`);
  return spawnSync(process.execPath, [CLI, ...args], { stdio: 'inherit', env: rekeyEnv }).status;
};

say(
  'starting the rekey functions locally (rekey serve), with a Knative-like broker for its events',
);
const served = await serveRekey(env, dir, { LOG_LEVEL: 'error' });
process.stdout.write(`    serving ${served.base}/{kms-event,cluster-event,webhook,reconcile}\n`);
const store = () => rekeyFor(env).deps.store;
const newest = async () =>
  (await store().list(env.kms.providerName))
    .map((s) => s.revision)
    .sort((a, b) => b.number - a.number)[0];

say('PingSource ticks: rekey records the key the apiserver uses now (nothing is stale yet)');
await served.tickUntil(async () => (await newest())?.phase === 'Completed', 120_000);

say('which keys protect the data in etcd now (rekey keys: read from etcd, nothing decrypted)');
rekey('keys');

const keyId = await rotate({ dir });
say(`the KMS key rotated: the plugin now reports key_id ${keyId}`);
say(
  'the key-id reporter updates its ConfigMap; ApiServerSource delivers that change to /cluster-event',
);
const reports = await coreApi(env).listNamespacedConfigMap({
  namespace: 'rekey-system',
  labelSelector: 'rekey.dev/key-id-report=true',
});
await new Promise((r) => setTimeout(r, 3000)); // the reporter's interval
for (const cm of reports.items) {
  const r = await deliver(`${served.base}/cluster-event`, {
    type: 'dev.knative.apiserver.ref.update',
    source: 'https://kubernetes.default.svc',
    data: {
      kind: 'ConfigMap',
      namespace: 'rekey-system',
      name: cm.metadata?.name,
      apiVersion: 'v1',
    },
  });
  process.stdout.write(`    POST /cluster-event -> ${r.status}\n`);
}

say(
  'rekey waits for every apiserver to adopt it, then rewrites in slices (continuation events) and verifies',
);
const bar = new SingleBar({
  format: '    {phase} |{bar}| {value}/{total} objects, {reencrypted} re-encrypted',
  hideCursor: true,
});
bar.start(SECRETS, 0, { phase: 'Observed', reencrypted: 0 });
await served.tickUntil(async () => {
  const r = await newest();
  if (r?.keyIdHash !== keyIdHash(keyId)) return false;
  const c = summariseProgress(r.progress).counts;
  bar.setTotal(Math.max(SECRETS, c.listed));
  bar.update(c.listed, { phase: r.phase, reencrypted: c.reencrypted });
  return r.phase === 'Completed' || r.phase === 'Degraded';
}, 600_000);
bar.stop();
await served.stop();
const code = rekey('status') === 0 ? 0 : 1;

say('proof from etcd');
const verified = rekey('verify');

say('which keys protect the data now, and may the old one be disabled?');
rekey('keys');
const old = (await store().list(env.kms.providerName))
  .map((s) => s.revision)
  .sort((a, b) => a.number - b.number)[0]?.keyId;
const retirable = old ? rekey('keys', '--retire', old) : 1;

const exports = Object.entries(rekeyEnv)
  .filter(([k]) => k.startsWith('REKEY_') || k === 'KUBECONFIG')
  .map(([k, v]) => `export ${k}='${v}'`)
  .join('\n');
process.stdout.write(
  `\nThe sandbox is still up. To explore:\n${exports}\n` +
    `npm run -s rekey -- status          # or verify, reconcile --until-complete\n` +
    `npm run sandbox -- rotate --wait     # rotate again\n` +
    `npm run sandbox -- down              # stop everything\n`,
);
process.exitCode = code === 0 && verified === 0 && retirable === 0 ? 0 : 1;
