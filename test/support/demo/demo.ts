// `npm run demo`: a real rotation on the local sandbox, end to end, on the real Knative tier.
// Starts the control plane, seeds secrets, starts Knative Eventing's data plane with rekey's
// infra/ and its four functions (each as its own ServiceAccount), waits for the first revision,
// rotates the KMS key and then delivers nothing itself: the key-id reporter's change reaches
// cluster-event through the ApiServerSource and the Broker, which hands reconcile a step; its
// continuations carry the migration to completion, until etcd proves every secret is under the
// new key. Runs on the host's network: the InMemoryChannel dispatcher needs ports 8080 and 8443.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SingleBar } from 'cli-progress';
import { keyIdHash } from '../../../shared/domain/key-id.ts';
import { summariseProgress } from '../../../shared/domain/migration-progress.ts';
import { deployFunctions } from '../deployed-functions.ts';
import { DISPATCHER_PORTS, portFree } from '../knative/processes.ts';
import { coreApi, kubeConfig } from '../kube.ts';
import { rekeyFor, STATE_NAMESPACE } from '../rekey-fixture.ts';
import { defaultSandboxDir } from '../sandbox/env-file.ts';
import { waitFor } from '../sandbox/net.ts';
import { down, rotate, up } from '../sandbox/sandbox.ts';
import { seedMany } from '../seed.ts';

const CLI = fileURLToPath(new URL('../../../functions/cli/main.ts', import.meta.url));
const SECRETS = Number(process.env.DEMO_SECRETS ?? 2000);
const say = (s: string) => process.stdout.write(`\n\x1b[1m==> ${s}\x1b[0m\n`);

const dir = defaultSandboxDir();
say(`starting the sandbox in ${dir} (kube-apiserver + etcd + KMS v2 plugin)`);
await down({ dir });
for (const port of DISPATCHER_PORTS) {
  if (!(await portFree(port))) {
    process.stderr.write(
      `\nport ${port} is in use on this machine: the demo runs Knative's InMemoryChannel ` +
        `dispatcher, which always listens on ${DISPATCHER_PORTS.join(' and ')}. Stop what ` +
        'listens there (another `npm run demo` or `npm run sandbox -- up --knative`) and retry.\n',
    );
    process.exit(1);
  }
}
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
  "starting Knative Eventing's data plane (Broker, InMemoryChannel, PingSource, ApiServerSource) " +
    "with rekey's infra/ and its four functions, each as its own ServiceAccount",
);
const started = Date.now();
// reconcile in smaller slices than the overlay's (20 s, pages of 100), which finish a few thousand
// secrets in one step here: the migration then shows its continuation events
const deployed = await deployFunctions(env, {
  settings: { reconcile: { REKEY_BUDGET_SECONDS: '1', REKEY_PAGE_SIZE: '50' } },
});
process.stdout.write(
  `    Broker ${deployed.knative.brokerUrl}; up in ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
);
for (const [svc, url] of Object.entries(deployed.knative.services)) {
  process.stdout.write(`    Knative Service ${svc}: ${url}\n`);
}
const store = () => rekeyFor(env).deps.store;
const newest = async () =>
  (await store().list(env.kms.providerName))
    .map((s) => s.revision)
    .sort((a, b) => b.number - a.number)[0];
/** What the Broker carried since `since`, type by type (an observer Trigger sees every event). */
const carried = (since: number) => {
  const counts = new Map<string, number>();
  for (const d of deployed.broker.deliveries.filter((e) => e.at >= since)) {
    const who = (d.data as { requestedBy?: string } | undefined)?.requestedBy;
    const key = `${d.attributes.type}${who ? ` (from ${who})` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  for (const [type, n] of counts) process.stdout.write(`    ${String(n).padStart(4)} x ${type}\n`);
  if (counts.size === 0) {
    process.stdout.write(
      '    nothing since the observer Trigger was added (after the tier was up)\n',
    );
  }
};

say(
  "the reporters' first reports and the PingSource reach rekey through the Broker: it records " +
    'the key the apiserver uses now (nothing is stale yet)',
);
await waitFor(
  'the first revision to complete',
  async () => ((await newest())?.phase === 'Completed' ? true : undefined),
  { timeoutMs: 300_000, intervalMs: 1000 },
);
const first = await newest();
process.stdout.write(
  `    ${first?.name} Completed (key_id ${first?.keyId}); since the tier was up the Broker carried:\n`,
);
carried(0);

say('which keys protect the data in etcd now (rekey keys: read from etcd, nothing decrypted)');
rekey('keys');

const rotatedAt = Date.now();
const keyId = await rotate({ dir });
say(`the KMS key rotated: the plugin now reports key_id ${keyId}`);
say(
  'from here the demo delivers nothing: the key-id reporter updates its ConfigMap, the ' +
    'ApiServerSource tells the Broker, cluster-event asks reconcile for a step, and reconcile ' +
    'waits for every apiserver to adopt the key, then rewrites in slices (continuation events) ' +
    'and verifies',
);
const bar = new SingleBar({
  format: '    {phase} |{bar}| {value}/{total} objects, {reencrypted} re-encrypted',
  hideCursor: true,
});
bar.start(SECRETS, 0, { phase: 'waiting for the event', reencrypted: 0 });
const finished = await waitFor(
  'a revision for the new key, Completed or Degraded',
  async () => {
    const r = await newest();
    if (r?.keyIdHash !== keyIdHash(keyId)) return undefined;
    const c = summariseProgress(r.progress).counts;
    bar.setTotal(Math.max(SECRETS, c.listed));
    bar.update(c.listed, { phase: r.phase, reencrypted: c.reencrypted });
    return r.phase === 'Completed' || r.phase === 'Degraded' ? r : undefined;
  },
  { timeoutMs: 900_000, intervalMs: 1000 },
);
bar.stop();
process.stdout.write(
  `    ${finished.phase} in ${((Date.now() - rotatedAt) / 1000).toFixed(0)} s; the Broker carried:\n`,
);
carried(rotatedAt);
const chain = ['dev.knative.apiserver.ref.update', 'dev.rekey.step.requested'].every(
  (type) => deployed.seen(type, rotatedAt).length > 0,
);
await deployed.stop();
const code = rekey('status') === 0 && finished.phase === 'Completed' && chain ? 0 : 1;

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
    `npm run sandbox -- down              # stop everything (the Knative tier too)\n`,
);
process.exitCode = code === 0 && verified === 0 && retirable === 0 ? 0 : 1;
