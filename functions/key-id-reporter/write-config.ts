// The node agent's write mode: puts one EncryptionConfiguration revision in place for the
// apiserver on this node. The revision is validated first (a file the apiserver would refuse is
// never written), localized (this node's KMS plugin endpoints), and written atomically: a temp
// file in the same directory, flushed, then renamed over the file, so the apiserver, which mounts
// the directory and re-reads the file, sees the old or the new content, never a part. The file it
// replaces is kept next to it as `<file>.previous`. Files are 0600: they may hold local keys.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import {
  parseEncryptionDocument,
  renderEncryptionDocument,
  withKmsEndpoints,
} from '../../shared/domain/encryption-revisions/document.ts';
import { configHash } from '../../shared/domain/encryption-revisions/revision.ts';

export interface WriteConfigOptions {
  /** The file the apiserver reads (`--encryption-provider-config`), in a mounted directory. */
  file: string;
  /** The revision's text. */
  text: string;
  /** This node's plugin endpoint per kms provider name, when it differs from the revision's. */
  kmsEndpoints?: Readonly<Record<string, string>> | undefined;
}

export interface WrittenConfig {
  /** The hash of the bytes now in the file: the one this node's apiserver will report. */
  hash: string;
  /** The hash of the file it replaced, kept as `<file>.previous`; undefined if there was none. */
  previousHash?: string | undefined;
  /** False when the file already had exactly these bytes (nothing was written). */
  changed: boolean;
}

function readIfThere(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Writes `bytes` to `file` through a temp file in the same directory and a rename. */
function writeAtomically(file: string, bytes: string | Uint8Array): void {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/**
 * Validates, localizes and writes one revision. Throws EncryptionConfigError (nothing written) on
 * a revision the apiserver would refuse; its message never quotes the file.
 */
export function writeEncryptionConfigFile({
  file,
  text,
  kmsEndpoints,
}: WriteConfigOptions): WrittenConfig {
  const doc = parseEncryptionDocument(text);
  const local =
    kmsEndpoints && Object.keys(kmsEndpoints).length > 0
      ? renderEncryptionDocument(withKmsEndpoints(doc, kmsEndpoints))
      : text;
  const hash = configHash(local);
  const before = readIfThere(file);
  const previousHash = before ? configHash(before) : undefined;
  if (previousHash === hash) return { hash, previousHash, changed: false };
  if (before) writeAtomically(`${file}.previous`, before);
  writeAtomically(file, local);
  return { hash, previousHash, changed: true };
}
