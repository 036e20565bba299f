// rekey's own kubeconfig reading (shared/adapters/k8s/connection.ts): the current context's
// server, CA, client certificate and token, from inline data or files relative to the kubeconfig;
// the pod's ServiceAccount in a cluster; exec and auth-provider users handed to client-node; and
// clear errors for what cannot work.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import {
  connectionFromKubeconfig,
  inClusterConnection,
  KubeconfigError,
  loadConnection,
} from '../../../../shared/adapters/k8s/connection.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown> = {}) {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'ctx',
    contexts: [
      { name: 'other', context: { cluster: 'c2', user: 'u2' } },
      { name: 'ctx', context: { cluster: 'c1', user: 'u1' } },
    ],
    clusters: [
      { name: 'c2', cluster: { server: 'https://wrong:6443' } },
      { name: 'c1', cluster: { server: 'https://10.0.0.1:6443', ...cluster } },
    ],
    users: [
      { name: 'u2', user: { token: 'wrong' } },
      { name: 'u1', user },
    ],
  });
}

async function applied(conn: { authorize(o: RequestOptions): Promise<void> }) {
  const opts: RequestOptions = { headers: { accept: 'application/json' } };
  await conn.authorize(opts);
  return opts;
}

describe('connection from a kubeconfig', () => {
  it('uses the current context: its server, inline CA, client certificate and key', async () => {
    const conn = connectionFromKubeconfig(
      kubeconfig(
        { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') },
        { 'certificate-authority-data': b64('CA'), 'tls-server-name': 'kubernetes' },
      ),
    );
    assert.equal(conn.server, 'https://10.0.0.1:6443');
    const o = await applied(conn);
    assert.deepEqual(
      [String(o.ca), String(o.cert), String(o.key), o.servername],
      ['CA', 'CERT', 'KEY', 'kubernetes'],
    );
    assert.deepEqual(o.headers, { accept: 'application/json' }, 'no bearer token for a cert user');
  });

  it('sends a token as a bearer header, keeping the headers already set', async () => {
    const o = await applied(connectionFromKubeconfig(kubeconfig({ token: 's3cr3t' })));
    assert.deepEqual(o.headers, { accept: 'application/json', authorization: 'Bearer s3cr3t' });
  });

  it('reads files relative to the kubeconfig folder, and a tokenFile', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rekey-kc-'));
    writeFileSync(join(dir, 'ca.crt'), 'CA-FILE');
    writeFileSync(join(dir, 'token'), 'file-token\n');
    const file = join(dir, 'config');
    writeFileSync(file, kubeconfig({ tokenFile: 'token' }, { 'certificate-authority': 'ca.crt' }));
    const o = await applied(loadConnection({ KUBECONFIG: file }));
    assert.equal(String(o.ca), 'CA-FILE');
    assert.equal((o.headers as Record<string, string>).authorization, 'Bearer file-token');
  });

  it('honours insecure-skip-tls-verify', async () => {
    const o = await applied(
      connectionFromKubeconfig(kubeconfig({ token: 't' }, { 'insecure-skip-tls-verify': true })),
    );
    assert.equal(o.rejectUnauthorized, false);
  });

  it('hands exec users to client-node (loaded only then), which runs the plugin', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rekey-kc-'));
    const plugin = join(dir, 'plugin.sh');
    writeFileSync(
      plugin,
      `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-exec"}}'\n`,
      { mode: 0o755 },
    );
    const conn = connectionFromKubeconfig(
      kubeconfig({
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1',
          command: plugin,
          interactiveMode: 'Never',
        },
      }),
    );
    const o = await applied(conn);
    // client-node's spelling of the header
    assert.equal((o.headers as Record<string, string>).Authorization, 'Bearer from-exec');
  });

  it('names what is missing: no current context, no server, an unreadable file', () => {
    assert.throws(
      () => connectionFromKubeconfig(stringify({ 'current-context': 'nope', contexts: [] })),
      (e: unknown) => e instanceof KubeconfigError && /no current context \(nope\)/.test(e.message),
    );
    assert.throws(
      () =>
        connectionFromKubeconfig(
          stringify({
            'current-context': 'c',
            contexts: [{ name: 'c', context: { cluster: 'x', user: 'u' } }],
            clusters: [{ name: 'x', cluster: {} }],
          }),
        ),
      /context c has no cluster with a server/,
    );
    assert.throws(
      () => connectionFromKubeconfig('clusters: [unclosed', '/etc/kc'),
      (e: unknown) =>
        e instanceof KubeconfigError && /kubeconfig \/etc\/kc: not YAML/.test(e.message),
    );
    assert.throws(
      () => loadConnection({ KUBECONFIG: '/nonexistent/kubeconfig' }),
      /kubeconfig \/nonexistent\/kubeconfig: ENOENT/,
    );
  });
});

describe('connection inside a pod', () => {
  it("uses the ServiceAccount's CA and token, and the service address (IPv6 bracketed)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rekey-sa-'));
    writeFileSync(join(dir, 'ca.crt'), 'SA-CA');
    writeFileSync(join(dir, 'token'), 'sa-token');
    const conn = inClusterConnection(
      { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' },
      dir,
    );
    assert.equal(conn.server, 'https://[fd00::1]:443');
    const o = await applied(conn);
    assert.equal(String(o.ca), 'SA-CA');
    assert.equal((o.headers as Record<string, string>).authorization, 'Bearer sa-token');
  });

  it('outside a pod and without KUBECONFIG, says so', () => {
    assert.throws(() => inClusterConnection({}), /not in a cluster .* and KUBECONFIG not set/);
  });
});
