// The base image infra/Dockerfile builds on, made on this machine where no image registry is
// reachable: what `node:24-bookworm-slim` provides (Debian bookworm, Node 24 and npm in
// /usr/local, a `node` user with uid/gid 1000), from Debian's packages (mmdebstrap, its smallest
// variant: the Essential packages, which include the /bin/sh a RUN line needs, plus the C++
// runtime Node links), the repository's own Node 24 binary (the npm `node` package) and a pinned
// npm. Behind a TLS-intercepting proxy, the CA bundle the building machine's Node trusts
// (NODE_EXTRA_CA_CERTS) goes into the base too, or the Dockerfile's npm install could not reach
// the registry. Cached in podman's storage under a tag made from the hash of its inputs: the same inputs
// are never built twice.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { imageExists, podman, podmanResult } from './podman.ts';

const NODE = fileURLToPath(new URL('../../../node_modules/node/bin/node', import.meta.url));
const NPM_VERSION = '11.19.1';
const SUITE = 'bookworm';
const VARIANT = 'essential';
const INCLUDE = ['libstdc++6'];
const MIRROR = 'http://deb.debian.org/debian';
const EXCLUDED = [
  '/usr/share/doc/*',
  '/usr/share/man/*',
  '/usr/share/info/*',
  '/usr/share/locale/*',
];
// what the node image sets up beside Debian: its user, Node and npm on PATH
const HOOKS = [
  'mkdir -p "$1/usr/local/bin" "$1/usr/local/lib/node_modules/npm" "$1/home/node"',
  'cp "$REKEY_BASE_NODE" "$1/usr/local/bin/node"',
  'tar -xzf "$REKEY_BASE_NPM" --strip-components=1 -C "$1/usr/local/lib/node_modules/npm"',
  'ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm"',
  'ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"',
  'echo "node:x:1000:1000::/home/node:/bin/sh" >> "$1/etc/passwd"',
  'echo "node:x:1000:" >> "$1/etc/group"',
  'chown 1000:1000 "$1/home/node"',
  'if [ -n "$REKEY_BASE_CA" ]; then mkdir -p "$1/etc/ssl/certs" && cp "$REKEY_BASE_CA" "$1/$CA_IN_IMAGE"; fi',
];
const CA_IN_IMAGE = '/etc/ssl/certs/extra-ca-certificates.crt';
const EXTRA_CA = process.env.NODE_EXTRA_CA_CERTS ?? '';

function nodeVersion(): string {
  const r = spawnSync(NODE, ['--version'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${NODE} --version failed: run npm install first`);
  return r.stdout.trim();
}

/** The tag of the base for today's inputs: the recipe, Node's version, the extra CA bundle. */
export function baseTag(): string {
  const recipe = { SUITE, MIRROR, VARIANT, INCLUDE, EXCLUDED, HOOKS, NPM_VERSION, CA_IN_IMAGE };
  const h = createHash('sha256')
    .update(JSON.stringify(recipe))
    .update(nodeVersion())
    .update(EXTRA_CA ? readFileSync(EXTRA_CA) : '')
    .digest('hex');
  return `localhost/rekey-base:${h.slice(0, 12)}`;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.error || r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`})`);
  }
  return r.stdout;
}

/** Builds the base when no image has today's tag; returns the tag. */
export function ensureBase(): string {
  const tag = baseTag();
  if (imageExists(tag)) return tag;
  const work = mkdtempSync(join(tmpdir(), 'rekey-base-'));
  try {
    const packed = run('npm', [
      'pack',
      `npm@${NPM_VERSION}`,
      '--pack-destination',
      work,
      '--silent',
    ]);
    const tarball = join(work, packed.trim().split('\n').at(-1) ?? '');
    const rootfs = join(work, 'rootfs.tar');
    run(
      'mmdebstrap',
      [
        `--variant=${VARIANT}`,
        `--include=${INCLUDE.join(',')}`,
        ...EXCLUDED.map((p) => `--dpkgopt=path-exclude=${p}`),
        ...HOOKS.map((h) => `--customize-hook=${h}`),
        SUITE,
        rootfs,
        MIRROR,
      ],
      {
        ...process.env,
        REKEY_BASE_NODE: NODE,
        REKEY_BASE_NPM: tarball,
        REKEY_BASE_CA: EXTRA_CA,
        CA_IN_IMAGE,
      },
    );
    const changes = [
      'CMD ["node"]',
      ...(EXTRA_CA ? [`ENV NODE_EXTRA_CA_CERTS=${CA_IN_IMAGE}`] : []),
    ];
    podman(['import', ...changes.flatMap((c) => ['--change', c]), rootfs, tag]);
    // earlier bases (other inputs) are only untagged: layers an image still uses stay
    const repo = tag.split(':')[0] ?? '';
    for (const old of podman(['images', '--format', '{{.Repository}}:{{.Tag}}', repo]).split(
      '\n',
    )) {
      if (old.trim() && old.trim() !== tag) podmanResult(['untag', old.trim()]);
    }
    return tag;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
