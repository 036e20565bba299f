// Builds (once per pin) the real Knative Eventing data-plane programs the sandbox's Knative tier
// runs as plain processes, from the published Go module pinned in ./programs/go.mod
// (knative.dev/eventing v0.49.2 = Knative Eventing 1.22), into the same cache as the control plane.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheBase, goVersion } from '../sandbox/build.ts';

export const KNATIVE_MODULE = fileURLToPath(new URL('./programs/', import.meta.url));

/** Program name -> its package in knative.dev/eventing. */
export const KNATIVE_PACKAGES = {
  apiserver_receive_adapter: 'knative.dev/eventing/cmd/apiserver_receive_adapter',
  mtping: 'knative.dev/eventing/cmd/mtping',
  ingress: 'knative.dev/eventing/cmd/broker/ingress',
  filter: 'knative.dev/eventing/cmd/broker/filter',
  channel_dispatcher: 'knative.dev/eventing/cmd/in_memory/channel_dispatcher',
} as const;
export type KnativeProgram = keyof typeof KNATIVE_PACKAGES;
export type KnativePrograms = Record<KnativeProgram, string>;
const NAMES = Object.keys(KNATIVE_PACKAGES) as KnativeProgram[];

/** Where the programs are cached: one folder per pin hash. */
export function knativeCacheRoot(): string {
  return join(cacheBase(), 'knative');
}

/** The pin: Go, go.mod, go.sum and the package list. A change of any of it rebuilds. */
export function knativePinHash(): string {
  const h = createHash('sha256');
  h.update(goVersion('the Knative Eventing programs'));
  for (const f of ['go.mod', 'go.sum']) h.update(readFileSync(join(KNATIVE_MODULE, f)));
  h.update(JSON.stringify(KNATIVE_PACKAGES));
  return h.digest('hex').slice(0, 16);
}

function programsIn(dir: string): KnativePrograms {
  return Object.fromEntries(NAMES.map((n) => [n, join(dir, n)])) as KnativePrograms;
}

/**
 * The pinned knative.dev/eventing module in the Go module cache (its config/ holds the CRDs and
 * ConfigMaps the programs need). Read offline: the build downloaded it.
 */
export function knativeEventingSource(): string {
  const version = /^\s*(?:require\s+)?knative\.dev\/eventing\s+(v\S+)\s*$/m.exec(
    readFileSync(join(KNATIVE_MODULE, 'go.mod'), 'utf8'),
  )?.[1];
  if (!version) throw new Error('programs/go.mod does not require knative.dev/eventing');
  const modCache = execFileSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' }).trim();
  const dir = join(modCache, `knative.dev/eventing@${version}`);
  if (!existsSync(join(dir, 'config'))) {
    throw new Error(`${dir} is missing: run \`npm run sandbox -- build\` first`);
  }
  return dir;
}

/** Returns the cached programs, building them first when the pin changed. */
export function ensureKnativePrograms({ log = (_: string) => {} } = {}): KnativePrograms {
  const dir = join(knativeCacheRoot(), knativePinHash());
  const programs = programsIn(dir);
  if (NAMES.every((n) => existsSync(programs[n]))) return programs;

  mkdirSync(knativeCacheRoot(), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  log(`building the Knative Eventing programs into ${dir} (first run only: several minutes)`);
  const started = Date.now();
  execFileSync(
    'go',
    ['build', '-trimpath', '-buildvcs=false', '-o', `${tmp}/`, ...Object.values(KNATIVE_PACKAGES)],
    {
      cwd: KNATIVE_MODULE,
      stdio: ['ignore', 'inherit', 'inherit'],
      // -mod=mod: go may complete go.mod's bookkeeping; the committed go.sum pins every checksum
      env: { ...process.env, GOFLAGS: '-mod=mod' },
    },
  );
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  log(`built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return programs;
}
