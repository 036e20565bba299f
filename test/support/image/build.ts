// `npm run image`: builds localhost/rekey:dev with podman from infra/Dockerfile, unchanged, on the
// locally made base (./base.ts) passed as its BASE build argument. Sets up what it needs first
// (./podman.ts), so the image tests can call ensureImage() on a fresh machine. One build at a
// time per machine (flock): a second caller waits and then finds everything cached.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_DIR } from '../infra/manifests.ts';
import { ensureBase } from './base.ts';
import { ensurePodman, podmanShown } from './podman.ts';

export const IMAGE = 'localhost/rekey:dev';
const SELF = fileURLToPath(import.meta.url);
const LOCKED = 'REKEY_IMAGE_LOCKED';

function lockFile(): string {
  const dir =
    process.env.REKEY_CACHE_DIR ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'rekey');
  mkdirSync(dir, { recursive: true });
  return join(dir, 'image.lock');
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

/** Set-up, base and image, in this process (the caller holds the lock). */
function buildHere(): void {
  let t = Date.now();
  ensurePodman();
  console.error(`image: podman, runc, mmdebstrap ready (${seconds(t)})`);
  t = Date.now();
  const base = ensureBase();
  console.error(`image: base ${base} ready (${seconds(t)})`);
  t = Date.now();
  podmanShown([
    'build',
    '--file',
    join(REPO_DIR, 'infra/Dockerfile'),
    '--ignorefile',
    join(REPO_DIR, 'infra/Dockerfile.dockerignore'),
    '--build-arg',
    `BASE=${base}`,
    // the install step reaches the npm registry through the host's network
    '--network',
    'host',
    '--tag',
    IMAGE,
    REPO_DIR,
  ]);
  console.error(`image: ${IMAGE} built (${seconds(t)})`);
}

/** Builds (or finds cached) everything up to localhost/rekey:dev, under the machine-wide lock. */
export function ensureImage(): string {
  const r = spawnSync('flock', [lockFile(), process.execPath, SELF], {
    encoding: 'utf8',
    env: { ...process.env, [LOCKED]: '1' },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error || r.status !== 0) {
    throw new Error(
      `building ${IMAGE} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}${r.stderr}`,
    );
  }
  return IMAGE;
}

if (process.argv[1] === SELF) {
  if (process.env[LOCKED]) {
    buildHere();
  } else {
    const r = spawnSync('flock', [lockFile(), process.execPath, SELF], {
      stdio: 'inherit',
      env: { ...process.env, [LOCKED]: '1' },
    });
    process.exit(r.status ?? 1);
  }
}
