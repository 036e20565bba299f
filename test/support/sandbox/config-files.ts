// Writes the files a sandbox control plane starts from: identities, service-account keys,
// the EncryptionConfiguration per apiserver, and a kubeconfig with one context per apiserver.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Identities {
  adminToken: string;
  rekeyToken: string;
  reporterToken: string;
  tokenFile: string;
  adminFile: string;
  rekeyFile: string;
}

/**
 * Token-file identities: `admin` (system:masters), `rekey` and `key-id-reporter` (no rights
 * until RBAC grants them: the sandbox binds them to infra/'s roles).
 */
export function writeIdentities(dir: string): Identities {
  const adminToken = randomBytes(24).toString('hex');
  const rekeyToken = randomBytes(24).toString('hex');
  const reporterToken = randomBytes(24).toString('hex');
  const tokenFile = join(dir, 'tokens.csv');
  writeFileSync(
    tokenFile,
    `${adminToken},admin,admin,"system:masters"\n${rekeyToken},rekey,rekey,"rekey"\n` +
      `${reporterToken},key-id-reporter,key-id-reporter,"rekey"\n`,
    { mode: 0o600 },
  );
  const adminFile = join(dir, 'admin.token');
  const rekeyFile = join(dir, 'rekey.token');
  writeFileSync(adminFile, adminToken, { mode: 0o600 });
  writeFileSync(rekeyFile, rekeyToken, { mode: 0o600 });
  return { adminToken, rekeyToken, reporterToken, tokenFile, adminFile, rekeyFile };
}

export function writeServiceAccountKeys(dir: string): { key: string; pub: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = join(dir, 'sa.key');
  const pub = join(dir, 'sa.pub');
  writeFileSync(key, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
  return { key, pub };
}

/**
 * The EncryptionConfiguration (JSON is valid YAML): the kms v2 provider first so it encrypts
 * every write, identity last so objects written before encryption stay readable.
 */
export function writeEncryptionConfig(
  file: string,
  {
    providerName,
    socket,
    resources,
  }: { providerName: string; socket: string; resources: string[] },
): void {
  const config = {
    apiVersion: 'apiserver.config.k8s.io/v1',
    kind: 'EncryptionConfiguration',
    resources: [
      {
        resources,
        providers: [
          {
            kms: {
              apiVersion: 'v2',
              name: providerName,
              endpoint: `unix://${socket}`,
              timeout: '3s',
            },
          },
          { identity: {} },
        ],
      },
    ],
  };
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
}

export interface KubeconfigCluster {
  name: string;
  url: string;
  caData: string;
}

/** One cluster+context per apiserver for each user; the first apiserver's admin context is current. */
export function writeKubeconfig(
  file: string,
  {
    clusters,
    adminToken,
    rekeyToken,
    reporterToken,
    currentContext = clusters[0]?.name,
  }: {
    clusters: KubeconfigCluster[];
    adminToken: string;
    rekeyToken: string;
    reporterToken: string;
    currentContext?: string | undefined;
  },
): void {
  const users = [
    { name: 'admin', user: { token: adminToken } },
    { name: 'rekey', user: { token: rekeyToken } },
    { name: 'key-id-reporter', user: { token: reporterToken } },
  ];
  const contexts = clusters.flatMap((c) =>
    users.map((u) => ({
      name: u.name === 'admin' ? c.name : `${u.name}@${c.name}`,
      context: { cluster: c.name, user: u.name },
    })),
  );
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: clusters.map((c) => ({
      name: c.name,
      cluster: { server: c.url, 'certificate-authority-data': c.caData },
    })),
    users,
    contexts,
    'current-context': currentContext,
  };
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
}
