// The image infra/Dockerfile builds, built with podman (`npm run image`, set up on first use):
// what it holds (the copied sources and the production dependencies, nothing else), who it runs
// as, and that each face starts from it: every function answers /healthz and drains on SIGTERM
// with exit 0, the CLI is the default command, the key-id reporter loads and checks its settings.
// Each function's work against a cluster from this image: test/e2e/image-rotation.test.ts.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureImage } from '../support/image/build.ts';
import { runContainer } from '../support/image/container.ts';
import { podman, podmanResult } from '../support/image/podman.ts';
import { REPO_DIR } from '../support/infra/manifests.ts';
import { freePort } from '../support/sandbox/net.ts';

const FUNCTIONS = ['reconcile', 'kms-event', 'cluster-event', 'webhook'];
const KUBECONFIG = JSON.stringify({
  apiVersion: 'v1',
  kind: 'Config',
  'current-context': 'c',
  contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
  clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
  users: [{ name: 'u', user: { token: 'not-used' } }],
});

/** Every file under `dir`, relative to `root`, sorted. */
function filesUnder(root: string, dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
}

/** Runs `sh -c script` in a throw-away container of the image; its stdout. */
function inImage(image: string, script: string, user?: string): string {
  return podman([
    'run',
    '--rm',
    '--entrypoint',
    'sh',
    ...(user ? ['--user', user] : []),
    image,
    '-c',
    script,
  ]);
}

describe('the image infra/Dockerfile builds', () => {
  let image = '';
  let dir = '';

  before(() => {
    image = ensureImage();
    dir = mkdtempSync(join(tmpdir(), 'rekey-image-'));
    chmodSync(dir, 0o755); // the image's user 1000 reads it
    writeFileSync(join(dir, 'kubeconfig'), KUBECONFIG, { mode: 0o644 });
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('holds the copied sources and the production dependencies, nothing else', (t) => {
    const app = inImage(image, 'ls -A /app').trim().split('\n').sort();
    assert.deepEqual(app, [
      'functions',
      'node_modules',
      'package-lock.json',
      'package.json',
      'shared',
    ]);

    const inside = inImage(image, 'cd /app && find functions shared -type f | sort').trim();
    const here = [...filesUnder(REPO_DIR, 'functions'), ...filesUnder(REPO_DIR, 'shared')].sort();
    assert.deepEqual(
      inside.split('\n').sort(),
      here,
      'functions/ and shared/ as in the repository',
    );

    const pkg = JSON.parse(readFileSync(join(REPO_DIR, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const lock = JSON.parse(readFileSync(join(REPO_DIR, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const installed = new Set(
      inImage(image, 'cd /app && find node_modules -name package.json')
        .trim()
        .split('\n')
        .map((p) => p.replace(/\/package\.json$/, '')),
    );
    for (const d of Object.keys(pkg.dependencies)) {
      assert.ok(installed.has(`node_modules/${d}`), `dependency ${d} installed`);
    }
    // what only the dev dependencies need (the lockfile marks it `dev`): none of it
    const devOnly = Object.entries(lock.packages)
      .filter(([path, p]) => path && p.dev)
      .map(([path]) => path);
    assert.ok(devOnly.length > 0, 'the lockfile marks dev-only packages');
    assert.deepEqual(
      devOnly.filter((p) => installed.has(p)),
      [],
      'no dev-only package in the image',
    );
    const size = Number(podman(['image', 'inspect', '--format', '{{.Size}}', image]).trim());
    t.diagnostic(`image size: ${(size / 1e6).toFixed(0)} MB`);
  });

  it('runs as the numeric non-root user 1000, which cannot change its own code', () => {
    assert.equal(
      podman(['image', 'inspect', '--format', '{{.Config.User}}', image]).trim(),
      '1000:1000',
    );
    assert.equal(inImage(image, 'id -u').trim(), '1000');
    const write = podmanResult([
      'run',
      '--rm',
      '--entrypoint',
      'sh',
      image,
      '-c',
      'touch /app/functions/x || touch /app/node_modules/x || echo refused',
    ]);
    assert.match(write.stdout, /refused/, `uid 1000 may not write /app: ${write.stderr}`);
    // the install's npm cache was a build-time mount, not a layer
    assert.equal(inImage(image, 'ls -A /root/.npm 2>/dev/null | wc -l', '0').trim(), '0');
  });

  it('its default command is the CLI; the key-id reporter loads and checks its settings', () => {
    const cli = podmanResult(['run', '--rm', image]);
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /Usage: rekey/);
    // without its settings the reporter exits 2 naming them: it loaded, validated and refused
    const reporter = podmanResult(['run', '--rm', image, 'functions/key-id-reporter/main.ts']);
    assert.equal(reporter.status, 2, reporter.stdout + reporter.stderr);
    assert.match(reporter.stdout + reporter.stderr, /invalid configuration/);
  });

  for (const fn of FUNCTIONS) {
    it(`${fn} starts from it, answers /healthz and drains on SIGTERM with exit 0`, async () => {
      const port = await freePort();
      const c = runContainer(image, fn, {
        args: [`functions/${fn}/main.ts`],
        env: {
          PORT: String(port),
          REKEY_PROVIDER: 'image-test',
          KUBECONFIG: join(dir, 'kubeconfig'),
          ...(fn === 'webhook'
            ? { REKEY_WEBHOOK_SECRETS: `whsec_${btoa('rekey image test secret')}` }
            : {}),
        },
        mounts: [dir],
      });
      let code: number;
      let logs = '';
      try {
        await c.untilOk(`http://127.0.0.1:${port}/healthz`);
      } finally {
        logs = c.logs();
        code = c.stop();
      }
      assert.equal(code, 0, `${fn} drained and exited 0 on SIGTERM:\n${logs}`);
    });
  }
});
