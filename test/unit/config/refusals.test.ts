// Every refusal at start-up is a ConfigError: the real entry points (the CLI's `status` and a
// function's main.ts, each run as a child process) answer a setting that can never work with exit
// code 2 and exactly one line on stderr naming the variable, never a stack trace. One test per
// family of settings; the modules that use a setting refuse with a ConfigError too. What each
// setting accepts is config.test.ts's subject, in-process.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pLimit from 'p-limit';
import { createWebhookSender } from '../../../shared/adapters/events/webhook-sender.ts';
import { loadConnection } from '../../../shared/adapters/k8s/connection.ts';
import { ConfigError } from '../../../shared/config/config.ts';
import { createTokenReviewAuthenticator } from '../../../shared/http/sender-auth.ts';
import { createWebhookVerifier } from '../../../shared/http/webhook-verify.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const NODE = join(ROOT, 'node_modules/.bin/node');

type Entry = 'cli' | 'kms-event' | 'cluster-event' | 'webhook' | 'reconcile';

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs an entry point with exactly `env` (plus PATH) and resolves once it has exited. */
function run(entry: Entry, env: Record<string, string>): Promise<Run> {
  const args =
    entry === 'cli' ? ['functions/cli/main.ts', 'status'] : [`functions/${entry}/main.ts`];
  return new Promise((resolve, reject) => {
    // the timeout only ends a process that was not refused (it would serve forever)
    const child = spawn(NODE, args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 30_000,
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

const dir = mkdtempSync(join(tmpdir(), 'rekey-refusals-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
/** A kubeconfig that parses: nothing is called before a refusal. */
const KUBECONFIG = file(
  'kubeconfig',
  JSON.stringify({
    'current-context': 'c',
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
    clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
    users: [{ name: 'u', user: { token: 't' } }],
  }),
);
const OK = { REKEY_PROVIDER: 'p', KUBECONFIG };
const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const SHORT_SECRET = `whsec_${Buffer.from('too-short').toString('base64')}`;

interface Refusal {
  /** What is wrong. */
  what: string;
  env: Record<string, string>;
  /** The variable the one line must name. */
  variable: string;
  /** A function that reads the setting (the CLI's `status` reads them all through one schema). */
  fn?: Exclude<Entry, 'cli'>;
  /** Must not appear on stderr (a secret). */
  hidden?: string;
}

// Each run costs a Node start-up and rekey's imports (~0.7 s of CPU): as many at once as there are
// cores, so none is starved past its timeout on a small machine.
const limit = pLimit(Math.max(2, availableParallelism()));

/**
 * Asserts that the entry points refuse: `typical` on the CLI and on a function, each of `more`
 * (refusals that happen past the settings schema, the same code in both) on its function only.
 * The schema's other refusals are checked in-process by config.test.ts.
 */
function refusals(family: string, typical: Refusal, ...more: Refusal[]): void {
  it(family, async () => {
    const planned: [Refusal, Entry][] = [
      [typical, 'cli'],
      [typical, typical.fn ?? 'webhook'],
      ...more.map((c): [Refusal, Entry] => [c, c.fn ?? 'webhook']),
    ];
    const runs = planned.map(([c, entry]) =>
      limit(async () => ({ c, entry, r: await run(entry, c.env) })),
    );
    for (const { c, entry, r } of await Promise.all(runs)) {
      const where = `${entry}, ${c.what}: ${JSON.stringify(r.stderr)}`;
      assert.equal(r.code, 2, where);
      const lines = r.stderr.split('\n');
      assert.equal(lines.pop(), '', `ends with a newline: ${where}`);
      assert.equal(lines.length, 1, `exactly one line: ${where}`);
      const line = lines[0] ?? '';
      assert.ok(line.startsWith(entry === 'cli' ? 'rekey: ' : `rekey ${entry}: `), where);
      assert.ok(line.includes(c.variable), `names ${c.variable}: ${where}`);
      assert.doesNotMatch(line, /\bat .*:\d+:\d+\)?$|Error: |node:internal/, `no stack: ${where}`);
      if (c.hidden) assert.ok(!r.stderr.includes(c.hidden), `does not echo it: ${where}`);
    }
  });
}

describe('start-up refusals: exit 2, one line naming the variable', { concurrency: true }, () => {
  refusals('provider, resources, namespace', {
    what: 'a namespace that is not a name',
    env: { KUBECONFIG, REKEY_NAMESPACE: 'Not_A_Name' },
    variable: 'REKEY_NAMESPACE',
  });

  refusals(
    'kubeconfig',
    {
      what: 'a missing file',
      env: { REKEY_PROVIDER: 'p', KUBECONFIG: join(dir, 'nonexistent') },
      variable: 'KUBECONFIG',
      fn: 'kms-event',
    },
    {
      what: 'a file that is not YAML (its parser reports on several lines)',
      env: { REKEY_PROVIDER: 'p', KUBECONFIG: file('bad-kubeconfig', 'clusters: [unclosed\n') },
      variable: 'KUBECONFIG',
      fn: 'kms-event',
    },
    {
      what: 'a CA file the kubeconfig names that does not exist',
      env: {
        REKEY_PROVIDER: 'p',
        KUBECONFIG: file(
          'kubeconfig-missing-ca',
          JSON.stringify({
            'current-context': 'c',
            contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
            clusters: [
              {
                name: 'c',
                cluster: { server: 'https://127.0.0.1:1', 'certificate-authority': 'nope.crt' },
              },
            ],
            users: [{ name: 'u', user: { token: 't' } }],
          }),
        ),
      },
      variable: 'KUBECONFIG',
      fn: 'reconcile',
    },
  );

  refusals('apiserver and etcd URLs and files', {
    what: 'an etcd CA file that does not exist',
    env: {
      ...OK,
      REKEY_ETCD_ENDPOINTS: 'https://127.0.0.1:2379',
      REKEY_ETCD_CA_FILE: join(dir, 'no-ca.crt'),
    },
    variable: 'REKEY_ETCD_CA_FILE',
    fn: 'reconcile',
  });

  refusals('numbers', {
    what: 'a page size that is no number',
    env: { ...OK, REKEY_PAGE_SIZE: 'abc' },
    variable: 'REKEY_PAGE_SIZE',
  });

  refusals('sender authentication', {
    what: 'an allowed sender that is no ServiceAccount',
    env: { ...OK, REKEY_SENDER_AUDIENCE: 'rekey', REKEY_ALLOWED_SENDERS: 'foo' },
    variable: 'REKEY_ALLOWED_SENDERS',
    fn: 'kms-event',
  });

  refusals('incoming webhook secrets', {
    what: 'a secret without whsec_',
    env: { ...OK, REKEY_WEBHOOK_SECRETS: `${SECRET},plain-secret-value` },
    variable: 'REKEY_WEBHOOK_SECRETS',
    hidden: 'plain-secret-value',
  });

  refusals('outgoing webhooks', {
    what: 'a signing secret without whsec_',
    env: {
      ...OK,
      REKEY_OUTGOING_WEBHOOK_URLS: 'https://ci.example/hook',
      REKEY_OUTGOING_WEBHOOK_SECRETS: 'plain-secret-value',
    },
    variable: 'REKEY_OUTGOING_WEBHOOK_SECRETS',
    fn: 'reconcile',
    hidden: 'plain-secret-value',
  });

  refusals('EventBridge token', {
    what: 'a token too short to be a secret',
    env: { ...OK, REKEY_EVENTBRIDGE_TOKEN: 'tooShortToken' },
    variable: 'REKEY_EVENTBRIDGE_TOKEN',
    fn: 'kms-event',
    hidden: 'tooShortToken',
  });

  refusals('step mode and K_SINK', {
    what: 'delegated steps without K_SINK',
    env: { ...OK, REKEY_STEP_MODE: 'delegate' },
    variable: 'REKEY_STEP_MODE',
    fn: 'cluster-event',
  });
});

describe('not a refusal: a trigger function never opens the etcd certificate files', () => {
  // infra/ mounts the etcd client Secret into the reconcile function only: a trigger function that
  // hands its steps off (REKEY_STEP_MODE=delegate) never verifies, so it must start without them
  it('cluster-event, delegating, with REKEY_ETCD_* set and no files, serves', async () => {
    const free = createServer();
    await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
    const port = (free.address() as { port: number }).port;
    await new Promise<void>((resolve) => free.close(() => resolve()));
    const missing = join(dir, 'not-mounted');
    const child = spawn(NODE, ['functions/cluster-event/main.ts'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        ...OK,
        REKEY_STEP_MODE: 'delegate',
        K_SINK: 'http://127.0.0.1:1',
        PORT: String(port),
        REKEY_ETCD_ENDPOINTS: 'https://127.0.0.1:2379',
        REKEY_ETCD_CA_FILE: join(missing, 'ca.crt'),
        REKEY_ETCD_CERT_FILE: join(missing, 'tls.crt'),
        REKEY_ETCD_KEY_FILE: join(missing, 'tls.key'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    // serving (its start-up log line), or exited: whichever comes first
    const serving = await Promise.race([
      new Promise<boolean>((resolve) => {
        child.stdout.on('data', () => {
          if (/"msg":"serving"/.test(out)) resolve(true);
        });
      }),
      exited.then(() => false),
    ]);
    child.kill('SIGTERM');
    await exited;
    assert.ok(serving, `it serves: ${out}`);
    assert.doesNotMatch(out, /REKEY_ETCD/, 'nothing about the etcd files');
  });
});

describe('the modules that use a setting refuse it with a ConfigError too', () => {
  const cases: [string, () => unknown][] = [
    [
      'sender auth: an allowed sender that is no ServiceAccount',
      () =>
        createTokenReviewAuthenticator({
          audience: 'rekey',
          allowedSenders: ['foo'],
          reviewToken: async () => ({}),
        }),
    ],
    [
      'outgoing webhooks: a secret without whsec_',
      () => createWebhookSender({ urls: ['https://ci.example/hook'], secrets: ['plain'] }),
    ],
    ['incoming webhooks: a short secret', () => createWebhookVerifier({ secrets: [SHORT_SECRET] })],
    ['kubeconfig: a missing file', () => loadConnection({ KUBECONFIG: join(dir, 'nonexistent') })],
  ];
  for (const [what, refuse] of cases) {
    it(what, () => {
      assert.throws(refuse, (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.doesNotMatch(err.message, /\n/, 'one line');
        return true;
      });
    });
  }
});
