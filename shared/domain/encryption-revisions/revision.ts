// A numbered EncryptionConfiguration revision: revision 1 is the file as rekey found it, each
// later one a stage of a switch. The text may hold local keys (aescbc, secretbox), so it is kept
// in a private field: JSON, util.inspect and template strings show the number, stage and hash only.
import { createHash } from 'node:crypto';
import { InvalidRevisionNumberError } from '../errors.ts';

/**
 * `found`: the file as it was; `add-read`: the target added as a read provider (not first);
 * `write`: the target first (it encrypts writes), the old one still read; `remove-old`: the old
 * write provider gone, after every object in scope was migrated and proven.
 */
export type RevisionStage = 'found' | 'add-read' | 'write' | 'remove-old';

export const REVISION_STAGES: readonly RevisionStage[] = [
  'found',
  'add-read',
  'write',
  'remove-old',
];

/** `sha256:` + hex of the bytes, as kube-apiserver labels its last_config_info metric. */
export function configHash(text: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

export class ConfigRevision {
  readonly number: number;
  readonly stage: RevisionStage;
  /** The hash of the text, the hash an apiserver reports once it applied exactly this file. */
  readonly hash: string;
  readonly #text: string;

  constructor(number: number, stage: RevisionStage, text: string) {
    if (!Number.isSafeInteger(number) || number < 1) {
      throw new InvalidRevisionNumberError(`revision number must be a positive integer: ${number}`);
    }
    this.number = number;
    this.stage = stage;
    this.#text = text;
    this.hash = configHash(text);
  }

  /** The file's content. Holds key material: write it to its file or Secret, nowhere else. */
  text(): string {
    return this.#text;
  }

  toJSON(): { number: number; stage: RevisionStage; hash: string } {
    return { number: this.number, stage: this.stage, hash: this.hash };
  }

  toString(): string {
    return `revision ${this.number} (${this.stage}, ${this.hash})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `ConfigRevision ${this.toString()}`;
  }
}
