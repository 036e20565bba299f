// The image without a container engine (none runs here): the files infra/Dockerfile copies, with
// the dependencies its own install command installs (read from the Dockerfile, so the two cannot
// drift), in a folder of their own. From there, under Node 24 and NODE_ENV=production, every
// function starts, answers /healthz and drains on SIGTERM with exit 0, and the CLI and the
// key-id reporter load: no run-time import of a dev dependency, nothing outside the copied files.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { INFRA_DIR, REPO_DIR } from '../support/infra/manifests.ts';
import { freePort, waitFor } from '../support/sandbox/net.ts';

const dockerfile = readFileSync(join(INFRA_DIR, 'Dockerfile'), 'utf8');
const lines = dockerfile
  .replace(/\\\n\s*/g, ' ')
  .split('\n')
  .filter((l) => !l.trimStart().startsWith('#'));
/** `COPY a b ./dest` of the build context (not --from= another stage): a and b. */
const COPIED = [
  ...new Set(
    lines
      .filter((l) => l.startsWith('COPY ') && !l.includes('--from='))
      .flatMap((l) => l.split(/\s+/).slice(1, -1)),
  ),
];
/** The deps stage's `RUN [--mount=...] npm ...`, without its mount options. */
const INSTALL = lines
  .find((l) => /^RUN .*\bnpm (ci|install)\b/.test(l))
  ?.replace(/^RUN\s+(--mount=\S+\s+)*/, '')
  .split(/\s+/);

const FUNCTIONS = ['reconcile', 'kms-event', 'cluster-event', 'webhook'];
const KUBECONFIG = JSON.stringify({
  apiVersion: 'v1',
  kind: 'Config',
  'current-context': 'c',
  contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
  clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
  users: [{ name: 'u', user: { token: 'not-used' } }],
});

describe('the image, laid out as infra/Dockerfile builds it', () => {
  let app = '';
  let install: ReturnType<typeof spawnSync> | undefined;

  before(() => {
    assert.deepEqual(COPIED.sort(), ['functions', 'package-lock.json', 'package.json', 'shared']);
    assert.ok(INSTALL && INSTALL[0] === 'npm', `an npm install in ${INSTALL?.join(' ')}`);
    app = mkdtempSync(join(tmpdir(), 'rekey-image-'));
    for (const f of COPIED) cpSync(join(REPO_DIR, f), join(app, f), { recursive: true });
    writeFileSync(join(app, 'kubeconfig'), KUBECONFIG);
    install = spawnSync(INSTALL[0], INSTALL.slice(1), {
      cwd: app,
      encoding: 'utf8',
      timeout: 300_000,
    });
  });
  after(() => {
    if (app) rmSync(app, { recursive: true, force: true });
  });

  it("installs with the Dockerfile's own command: production dependencies only", () => {
    assert.equal(install?.status, 0, `${INSTALL?.join(' ')}:\n${install?.stderr}`);
    const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    for (const d of Object.keys(pkg.dependencies)) {
      assert.ok(existsSync(join(app, 'node_modules', d)), `dependency ${d} installed`);
    }
    // what only the dev dependencies need (the lockfile marks it `dev`): none of it
    const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const devOnly = Object.entries(lock.packages).filter(([path, p]) => path && p.dev);
    assert.ok(devOnly.length > 0, 'the lockfile marks dev-only packages');
    const present = devOnly.filter(([path]) => existsSync(join(app, path))).map(([path]) => path);
    assert.deepEqual(present, [], 'no dev-only package in the image');
  });

  for (const fn of FUNCTIONS) {
    it(`${fn} starts from it, answers /healthz and drains on SIGTERM`, async () => {
      const port = await freePort();
      const child = spawn(process.execPath, [`functions/${fn}/main.ts`], {
        cwd: app,
        env: {
          PATH: process.env.PATH,
          NODE_ENV: 'production',
          PORT: String(port),
          REKEY_PROVIDER: 'image-test',
          KUBECONFIG: join(app, 'kubeconfig'),
          ...(fn === 'webhook'
            ? { REKEY_WEBHOOK_SECRETS: `whsec_${btoa('rekey image test secret')}` }
            : {}),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.stderr.on('data', (d: Buffer) => (out += d));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      try {
        await waitFor(`${fn} /healthz`, async () => {
          if (child.exitCode !== null) throw new Error(`${fn} exited ${child.exitCode}: ${out}`);
          return (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok
            ? true
            : undefined;
        });
      } finally {
        child.kill('SIGTERM');
      }
      assert.equal(await exited, 0, `${fn} drained and exited 0 on SIGTERM:\n${out}`);
    });
  }

  it('the CLI and the key-id reporter load from it', () => {
    const cli = spawnSync(process.execPath, ['functions/cli/main.ts', '--help'], {
      cwd: app,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, NODE_ENV: 'production' },
    });
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /Usage: rekey/);
    // without its settings the reporter exits 2 naming them: it loaded, validated and refused
    const reporter = spawnSync(process.execPath, ['functions/key-id-reporter/main.ts'], {
      cwd: app,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, NODE_ENV: 'production' },
    });
    assert.equal(reporter.status, 2, reporter.stdout + reporter.stderr);
    assert.match(reporter.stdout + reporter.stderr, /invalid configuration/);
  });
});
