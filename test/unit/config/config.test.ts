// Settings from the environment: defaults, lists, and errors that name every variable at fault,
// on one line (the entry points print it as is: refusals.test.ts), never echoing a secret.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ConfigError,
  loadConfig,
  replayNamespaceOf,
  stateNamespaceOf,
} from '../../../shared/config/config.ts';

/** Asserts that `env` is rejected with a ConfigError, and returns its message. */
function rejected(env: Record<string, string | undefined>): string {
  let message = '';
  assert.throws(
    () => loadConfig(env),
    (err: Error) => {
      assert.ok(err instanceof ConfigError, `${err.name}: ${err.message}`);
      assert.equal(err.name, 'ConfigError');
      assert.doesNotMatch(err.message, /\n/, 'one line');
      message = err.message;
      return true;
    },
  );
  return message;
}

describe('loadConfig', () => {
  it('fills in the defaults around the one required setting', () => {
    assert.deepEqual(loadConfig({ REKEY_PROVIDER: 'aws-kms' }), {
      REKEY_PROVIDER: 'aws-kms',
      REKEY_NAMESPACE: 'rekey-system',
      REKEY_ETCD_PREFIX: '/registry',
      REKEY_PAGE_SIZE: 500,
      REKEY_CONCURRENCY: 'auto',
      REKEY_CONCURRENCY_MAX: 32,
      REKEY_BUDGET_SECONDS: 60,
      REKEY_FALLBACK_WAIT_SECONDS: 300,
      REKEY_KEEP_REVISIONS: 10,
      PORT: 8080,
      LOG_LEVEL: 'info',
      REKEY_SINK_TOKEN_FILE: '/oidc/token',
      REKEY_STEP_MODE: 'local',
      REKEY_KMS_EVENT_PRIVATE: false,
    });
  });

  it('kms-event: REKEY_KMS_EVENT_PRIVATE is true or false, and never next to a public path secret', () => {
    assert.equal(
      loadConfig({ REKEY_PROVIDER: 'p', REKEY_KMS_EVENT_PRIVATE: 'true' }).REKEY_KMS_EVENT_PRIVATE,
      true,
    );
    assert.equal(
      loadConfig({ REKEY_PROVIDER: 'p', REKEY_KMS_EVENT_PRIVATE: '' }).REKEY_KMS_EVENT_PRIVATE,
      false,
    );
    assert.match(
      rejected({ REKEY_PROVIDER: 'p', REKEY_KMS_EVENT_PRIVATE: 'yes' }),
      /REKEY_KMS_EVENT_PRIVATE/,
    );
    for (const secret of ['REKEY_EVENTBRIDGE_TOKEN', 'REKEY_EVENTGRID_TOKEN']) {
      assert.match(
        rejected({
          REKEY_PROVIDER: 'p',
          REKEY_KMS_EVENT_PRIVATE: 'true',
          [secret]: 'x'.repeat(32),
        }),
        /REKEY_KMS_EVENT_PRIVATE: true contradicts/,
      );
    }
    assert.match(
      rejected({ REKEY_PROVIDER: 'p', REKEY_EVENTGRID_TOKEN: 'short' }),
      /REKEY_EVENTGRID_TOKEN/,
    );
  });

  it('wants sender authentication and outgoing webhooks configured whole or not at all', () => {
    assert.match(
      rejected({ REKEY_PROVIDER: 'p', REKEY_SENDER_AUDIENCE: 'rekey' }),
      /REKEY_SENDER_AUDIENCE: set both/,
    );
    assert.match(
      rejected({ REKEY_PROVIDER: 'p', REKEY_OUTGOING_WEBHOOK_URLS: 'https://x.example' }),
      /REKEY_OUTGOING_WEBHOOK_URLS: set both/,
    );
    const c = loadConfig({
      REKEY_PROVIDER: 'p',
      REKEY_SENDER_AUDIENCE: 'a',
      REKEY_ALLOWED_SENDERS: 'system:serviceaccount:ns:sa',
    });
    assert.deepEqual(c.REKEY_ALLOWED_SENDERS, ['system:serviceaccount:ns:sa']);
  });

  it('rejects a K_SINK that is not a URL and a short EventBridge token', () => {
    assert.match(rejected({ REKEY_PROVIDER: 'p', K_SINK: 'not a url' }), /K_SINK/);
    assert.match(
      rejected({ REKEY_PROVIDER: 'p', REKEY_EVENTBRIDGE_TOKEN: 'short' }),
      /REKEY_EVENTBRIDGE_TOKEN/,
    );
  });

  it('leaves optional connections unset when their variables are absent', () => {
    const c = loadConfig({ REKEY_PROVIDER: 'p' });
    assert.equal(c.KUBECONFIG, undefined);
    assert.equal(c.REKEY_APISERVER_URLS, undefined);
    assert.equal(c.REKEY_PLUGIN_SOCKETS, undefined);
    assert.equal(c.REKEY_ETCD_ENDPOINTS, undefined);
    assert.equal(c.REKEY_HOLDER, undefined);
  });

  it('splits lists on commas, trims each entry and drops empty ones', () => {
    const c = loadConfig({
      REKEY_PROVIDER: 'p',
      REKEY_RESOURCES: ' secrets , configmaps,,',
      REKEY_APISERVER_URLS: 'https://10.0.0.1:6443, https://10.0.0.2:6443 ',
      REKEY_PLUGIN_SOCKETS: '/var/run/kms/a.sock',
      REKEY_ETCD_ENDPOINTS: ' https://etcd-0:2379 ,https://etcd-1:2379',
    });
    assert.deepEqual(c.REKEY_RESOURCES, ['secrets', 'configmaps']);
    assert.deepEqual(c.REKEY_APISERVER_URLS, ['https://10.0.0.1:6443', 'https://10.0.0.2:6443']);
    assert.deepEqual(c.REKEY_PLUGIN_SOCKETS, ['/var/run/kms/a.sock']);
    assert.deepEqual(c.REKEY_ETCD_ENDPOINTS, ['https://etcd-0:2379', 'https://etcd-1:2379']);
  });

  it('reads numbers from their string form', () => {
    const c = loadConfig({
      REKEY_PROVIDER: 'p',
      REKEY_PAGE_SIZE: '250',
      REKEY_CONCURRENCY: '4',
      REKEY_BUDGET_SECONDS: '20',
      REKEY_FALLBACK_WAIT_SECONDS: '600',
      REKEY_KEEP_REVISIONS: '3',
    });
    assert.equal(c.REKEY_PAGE_SIZE, 250);
    assert.equal(c.REKEY_CONCURRENCY, 4);
    assert.equal(c.REKEY_BUDGET_SECONDS, 20);
    assert.equal(c.REKEY_FALLBACK_WAIT_SECONDS, 600);
    assert.equal(c.REKEY_KEEP_REVISIONS, 3);
  });

  it('ignores variables it does not know (the rest of the environment)', () => {
    const c = loadConfig({ REKEY_PROVIDER: 'p', PATH: '/usr/bin', HOME: undefined });
    assert.ok(!('PATH' in c));
  });

  it('takes a missing or empty REKEY_PROVIDER as unset: rekey follows the reported write provider', () => {
    assert.equal(loadConfig({}).REKEY_PROVIDER, undefined);
    assert.equal(loadConfig({ REKEY_PROVIDER: '' }).REKEY_PROVIDER, undefined);
    assert.equal(loadConfig({ REKEY_PROVIDER: 'kms-b' }).REKEY_PROVIDER, 'kms-b');
  });

  it('lists every bad number, each under its variable', () => {
    const message = rejected({
      REKEY_PROVIDER: 'p',
      REKEY_PAGE_SIZE: '0',
      REKEY_CONCURRENCY: 'abc',
    });
    const problems = message.split('; ');
    assert.ok(
      problems.some((l) => /REKEY_PAGE_SIZE: must be a whole number from 1 to 10000/.test(l)),
    );
    assert.ok(
      problems.some((l) =>
        /REKEY_CONCURRENCY: must be auto or a whole number from 1 to 256/.test(l),
      ),
    );
    assert.ok(!message.includes('REKEY_PROVIDER'), 'only the variables at fault');
  });

  it('lists a bad namespace and bad numbers together', () => {
    const message = rejected({
      REKEY_NAMESPACE: 'Not_A_Name',
      REKEY_PAGE_SIZE: '0',
      REKEY_CONCURRENCY: 'abc',
    });
    for (const v of ['REKEY_NAMESPACE', 'REKEY_PAGE_SIZE', 'REKEY_CONCURRENCY']) {
      assert.match(message, new RegExp(v));
    }
  });

  const badNumbers: [string, string][] = [
    ['REKEY_PAGE_SIZE', '10001'],
    ['REKEY_PAGE_SIZE', '1.5'],
    ['REKEY_CONCURRENCY', '0'],
    ['REKEY_CONCURRENCY', '257'],
    ['REKEY_BUDGET_SECONDS', '-1'],
    ['REKEY_FALLBACK_WAIT_SECONDS', 'soon'],
    ['REKEY_KEEP_REVISIONS', '0'],
  ];
  for (const [variable, value] of badNumbers) {
    it(`rejects ${variable}=${value}`, () => {
      assert.match(rejected({ REKEY_PROVIDER: 'p', [variable]: value }), new RegExp(variable));
    });
  }

  for (const variable of ['REKEY_NAMESPACE', 'REKEY_STATE_NAMESPACE', 'REKEY_REPLAY_NAMESPACE']) {
    for (const namespace of ['Rekey-System', 'rekey_system', '-rekey', 'rekey.system']) {
      it(`rejects ${variable}=${JSON.stringify(namespace)}: not a namespace name`, () => {
        const message = rejected({ REKEY_PROVIDER: 'p', [variable]: namespace });
        assert.match(message, new RegExp(`${variable}: must be a namespace name`));
      });
    }
  }

  it('accepts a valid namespace name', () => {
    assert.equal(
      loadConfig({ REKEY_PROVIDER: 'p', REKEY_NAMESPACE: 'kube-system' }).REKEY_NAMESPACE,
      'kube-system',
    );
  });

  it("the webhook's replay claims: REKEY_REPLAY_NAMESPACE, else the state namespace, else REKEY_NAMESPACE", () => {
    const replayOf = (env: Record<string, string>) =>
      replayNamespaceOf(loadConfig({ REKEY_PROVIDER: 'p', ...env }));
    assert.equal(replayOf({}), 'rekey-system');
    assert.equal(replayOf({ REKEY_STATE_NAMESPACE: 'rekey-state' }), 'rekey-state');
    assert.equal(
      replayOf({ REKEY_STATE_NAMESPACE: 'rekey-state', REKEY_REPLAY_NAMESPACE: 'rekey-replay' }),
      'rekey-replay',
    );
    // the revisions and the runner Lease stay where they were
    assert.equal(
      stateNamespaceOf(
        loadConfig({
          REKEY_PROVIDER: 'p',
          REKEY_STATE_NAMESPACE: 'rekey-state',
          REKEY_REPLAY_NAMESPACE: 'rekey-replay',
        }),
      ),
      'rekey-state',
    );
  });

  it('rejects an etcd prefix that is not a path', () => {
    assert.match(
      rejected({ REKEY_PROVIDER: 'p', REKEY_ETCD_PREFIX: 'registry' }),
      /REKEY_ETCD_PREFIX/,
    );
  });

  it('treats an empty number as unset (its default)', () => {
    assert.equal(loadConfig({ REKEY_PROVIDER: 'p', REKEY_PAGE_SIZE: ' ' }).REKEY_PAGE_SIZE, 500);
  });

  it('rejects a port out of range', () => {
    assert.match(rejected({ REKEY_PROVIDER: 'p', PORT: '70000' }), /PORT: must be a whole number/);
  });

  const badEntries: [string, string, RegExp][] = [
    ['REKEY_APISERVER_URLS', 'https://10.0.0.1:6443,apiserver-2', /entry #2 .*http or https URL/],
    ['REKEY_ETCD_ENDPOINTS', 'https://etcd-0:2379/v3', /entry #1 .*etcd client URL/],
    ['REKEY_ETCD_ENDPOINTS', 'ftp://etcd-0:2379', /entry #1 .*etcd client URL/],
    ['REKEY_GCP_ENDPOINT', 'http://127.0.0.1:9000', /must be host:port/],
    ['REKEY_GCP_ENDPOINT', '127.0.0.1:0', /must be host:port/],
    ['REKEY_AWS_ENDPOINT', 'localhost:4566', /http or https URL/],
    ['K_SINK', 'broker.knative-eventing', /http or https URL/],
    ['REKEY_STEP_MODE', 'remote', /REKEY_STEP_MODE/],
  ];
  for (const [variable, value, message] of badEntries) {
    it(`rejects ${variable}=${value}`, () => {
      const m = rejected({ REKEY_PROVIDER: 'p', [variable]: value });
      assert.match(m, new RegExp(`${variable}: `));
      assert.match(m, message);
    });
  }

  it('accepts etcd endpoints with or without a scheme, and a host:port Cloud KMS endpoint', () => {
    const c = loadConfig({
      REKEY_PROVIDER: 'p',
      REKEY_ETCD_ENDPOINTS: 'https://etcd-0:2379,127.0.0.1:2379,http://[::1]:2379',
      REKEY_GCP_ENDPOINT: 'localhost:8443',
    });
    assert.deepEqual(c.REKEY_ETCD_ENDPOINTS, [
      'https://etcd-0:2379',
      '127.0.0.1:2379',
      'http://[::1]:2379',
    ]);
    assert.equal(c.REKEY_GCP_ENDPOINT, 'localhost:8443');
  });

  it('wants an etcd client certificate and its key together', () => {
    assert.match(
      rejected({ REKEY_PROVIDER: 'p', REKEY_ETCD_CERT_FILE: '/etc/etcd/tls.crt' }),
      /REKEY_ETCD_CERT_FILE: set both or neither/,
    );
    assert.match(
      rejected({ REKEY_PROVIDER: 'p', REKEY_ETCD_KEY_FILE: '/etc/etcd/tls.key' }),
      /REKEY_ETCD_CERT_FILE: set both or neither/,
    );
  });

  it('rejects an allowed sender that is no ServiceAccount, naming the entry', () => {
    const m = rejected({
      REKEY_PROVIDER: 'p',
      REKEY_SENDER_AUDIENCE: 'rekey',
      REKEY_ALLOWED_SENDERS: 'system:serviceaccount:ns:sa,foo',
    });
    assert.match(
      m,
      /REKEY_ALLOWED_SENDERS: entry #2 \("foo"\) is not system:serviceaccount:<namespace>:<name>/,
    );
  });

  it('rejects webhook secrets that cannot sign, in both directions, never echoing one', () => {
    const good = `whsec_${Buffer.from('a secret of 24 bytes!!!!').toString('base64')}`;
    const short = `whsec_${Buffer.from('too-short').toString('base64')}`;
    for (const [variable, extra] of [
      ['REKEY_WEBHOOK_SECRETS', {}],
      ['REKEY_OUTGOING_WEBHOOK_SECRETS', { REKEY_OUTGOING_WEBHOOK_URLS: 'https://ci.example/h' }],
    ] as const) {
      for (const bad of ['plain-secret-value', short, 'whsec_***']) {
        const m = rejected({ REKEY_PROVIDER: 'p', ...extra, [variable]: `${good},${bad}` });
        assert.match(
          m,
          new RegExp(`${variable}: entry #2 must be whsec_<base64 of at least 16 bytes>`),
        );
        assert.ok(!m.includes(bad) && !m.includes(good), `no secret in: ${m}`);
      }
    }
  });

  it('rejects an outgoing webhook URL without echoing it (its query may hold a credential)', () => {
    const m = rejected({
      REKEY_PROVIDER: 'p',
      REKEY_OUTGOING_WEBHOOK_URLS: 'ci.example/hook?token=hunter2',
      REKEY_OUTGOING_WEBHOOK_SECRETS: `whsec_${Buffer.from('a secret of 24 bytes!!!!').toString('base64')}`,
    });
    assert.match(m, /REKEY_OUTGOING_WEBHOOK_URLS: entry #1 is not an http or https URL/);
    assert.doesNotMatch(m, /hunter2/);
  });

  // an empty list variable (`value: ""` in a manifest) means unset; a list of nothing is an error
  it('treats an empty resource list as an error', () => {
    assert.match(rejected({ REKEY_PROVIDER: 'p', REKEY_RESOURCES: ' , ' }), /REKEY_RESOURCES/);
  });
  it('treats an empty connection list as unset', () => {
    const c = loadConfig({
      REKEY_PROVIDER: 'p',
      REKEY_ETCD_ENDPOINTS: '',
      REKEY_PLUGIN_SOCKETS: '',
      REKEY_APISERVER_URLS: '',
    });
    assert.equal(c.REKEY_ETCD_ENDPOINTS, undefined);
    assert.equal(c.REKEY_PLUGIN_SOCKETS, undefined);
    assert.equal(c.REKEY_APISERVER_URLS, undefined);
  });
});
