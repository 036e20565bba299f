// Builds (once per pin) the real control-plane binaries the sandbox runs: kube-apiserver,
// etcd and kubectl, from the published Go modules pinned in ../controlplane/go.mod.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CONTROLPLANE_MODULE = fileURLToPath(new URL('../controlplane/', import.meta.url));
export const BINARIES = ['kube-apiserver', 'etcd', 'kubectl', 'kube-controller-manager'] as const;
export type BinaryName = (typeof BINARIES)[number];
export type Binaries = Record<BinaryName, string>;

/** rekey's cache of downloaded and built tools (REKEY_CACHE_DIR, else ~/.cache/rekey). */
export function cacheBase(): string {
  return (
    process.env.REKEY_CACHE_DIR ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'rekey')
  );
}

/** Where built binaries are kept between runs: one folder per pin hash. */
export function cacheRoot(): string {
  return join(cacheBase(), 'controlplane');
}

export function goVersion(
  what = 'the sandbox control plane (kube-apiserver, etcd, kubectl)',
): string {
  const r = spawnSync('go', ['env', 'GOVERSION'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(
      `Go is required to build ${what} from its pinned Go modules, and \`go\` was not found ` +
        'or failed. Install Go 1.24+ and retry.',
    );
  }
  return r.stdout.trim();
}

/**
 * The version the built kube-apiserver reports (/version). A module build leaves the source
 * tree's placeholder (`v0.0.0-master+$Format:%H$`), which is not semver, and clients that check
 * the server's version (Knative's programs do at start-up) refuse it; so the link stamps the
 * pinned k8s.io/kubernetes release, read from go.mod.
 */
export function versionLdflags(
  goMod = readFileSync(join(CONTROLPLANE_MODULE, 'go.mod'), 'utf8'),
): string {
  const m = /^\s*k8s\.io\/kubernetes\s+v(\d+)\.(\d+)\.(\d+)\s*$/m.exec(goMod);
  if (!m)
    throw new Error('test/support/controlplane/go.mod does not require k8s.io/kubernetes vX.Y.Z');
  const [, major, minor, patch] = m;
  const pkg = 'k8s.io/component-base/version';
  return [
    `-X ${pkg}.gitVersion=v${major}.${minor}.${patch}`,
    `-X ${pkg}.gitMajor=${major}`,
    `-X ${pkg}.gitMinor=${minor}`,
  ].join(' ');
}

/** The pin: everything that decides what the build produces. A change of any of it rebuilds. */
export function pinHash(): string {
  const h = createHash('sha256');
  h.update(goVersion());
  h.update(versionLdflags());
  for (const f of ['go.mod', 'go.sum']) h.update(readFileSync(join(CONTROLPLANE_MODULE, f)));
  for (const dir of readdirSync(join(CONTROLPLANE_MODULE, 'cmd')).sort()) {
    h.update(dir);
    h.update(readFileSync(join(CONTROLPLANE_MODULE, 'cmd', dir, 'main.go')));
  }
  return h.digest('hex').slice(0, 16);
}

function binariesIn(dir: string): Binaries {
  return Object.fromEntries(BINARIES.map((b) => [b, join(dir, b)])) as Binaries;
}

/** Returns the cached binaries, building them first when the pin changed. */
export function ensureBinaries({ log = (_: string) => {} } = {}): Binaries {
  const dir = join(cacheRoot(), pinHash());
  const bins = binariesIn(dir);
  if (BINARIES.every((b) => existsSync(bins[b]))) return bins;

  mkdirSync(cacheRoot(), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  log(`building kube-apiserver, etcd and kubectl into ${dir} (first run only: several minutes)`);
  const started = Date.now();
  execFileSync(
    'go',
    [
      'build',
      '-trimpath',
      '-buildvcs=false',
      `-ldflags=${versionLdflags()}`,
      '-o',
      `${tmp}/`,
      './cmd/...',
    ],
    { cwd: CONTROLPLANE_MODULE, stdio: ['ignore', 'inherit', 'inherit'], env: process.env },
  );
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  log(`built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return bins;
}
