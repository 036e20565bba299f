// The node agent's write mode, one tick at a time: ask which configuration revision this node
// should run (the highest rolling out or applied, shared/domain/encryption-revisions/switch-state.ts),
// and write it to the apiserver's file with write-config.ts (validated, this node's KMS endpoints,
// temp file + rename, the replaced file kept). What it did goes into the key-id report
// (`configWrite`), so rekey compares each apiserver with the hash its own node's agent wrote.
// When no revision is stored yet, the file as found on this node becomes revision 1. The text may
// hold local keys: it is never logged; logs name the revision number and hashes only.
import { readFileSync } from 'node:fs';
import type { ReportedConfigWrite } from '../../shared/adapters/k8s/key-id-reports.ts';
import { configHash } from '../../shared/domain/encryption-revisions/revision.ts';
import type { ReporterLog } from './run-loop.ts';
import { writeEncryptionConfigFile } from './write-config.ts';

/** Where the revisions come from (in production: rekey's revision Secrets). */
export interface ConfigSource {
  /** The revision this node should run; undefined when none is stored at all. */
  desired(): Promise<{ number: number; text: string } | undefined>;
  /** Stores `text` as revision 1 (the file as found); a revision 1 already there wins. */
  recordFound(text: string, hash: string): Promise<void>;
}

export interface ConfigWriterOptions {
  source: ConfigSource;
  /** The apiserver's --encryption-provider-config on this node, in a mounted directory. */
  file: string;
  /** This node's plugin endpoint per kms provider name. */
  kmsEndpoints: Readonly<Record<string, string>>;
  log: ReporterLog;
}

const MAX_ERROR_CHARS = 300;
const short = (err: unknown) => {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS - 1)}…` : text;
};

export function createConfigWriter({ source, file, kmsEndpoints, log }: ConfigWriterOptions) {
  let state: ReportedConfigWrite = { kmsEndpoints: { ...kmsEndpoints } };
  return {
    /** One pass; never rejects. Returns what the report should say. */
    async tick(): Promise<ReportedConfigWrite> {
      let desired: { number: number; text: string } | undefined;
      try {
        desired = await source.desired();
        if (!desired) {
          const text = readFileSync(file, 'utf8');
          await source.recordFound(text, configHash(text));
          log.info({ hash: configHash(text) }, 'encryption configuration recorded as revision 1');
          return state;
        }
      } catch (err) {
        // the API may be down: the file stays as it is, the report keeps what was done last
        log.warn({ err: short(err) }, 'reading the configuration revisions failed; retrying');
        return state;
      }
      try {
        const written = writeEncryptionConfigFile({ file, text: desired.text, kmsEndpoints });
        if (written.changed || state.revision !== desired.number || state.error) {
          log.info(
            {
              revision: desired.number,
              hash: written.hash,
              previousHash: written.previousHash ?? null,
              changed: written.changed,
            },
            'encryption configuration revision in place',
          );
        }
        state = { revision: desired.number, hash: written.hash, kmsEndpoints: { ...kmsEndpoints } };
      } catch (err) {
        const error = short(err);
        if (state.revision !== desired.number || state.error !== error) {
          log.error({ revision: desired.number, err: error }, 'cannot write the configuration');
        }
        state = { revision: desired.number, error, kmsEndpoints: { ...kmsEndpoints } };
      }
      return state;
    },
  };
}

/** `name=endpoint,name=endpoint` (REKEY_KMS_ENDPOINTS) as a map; throws on a malformed item. */
export function parseKmsEndpoints(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of (text ?? '').split(',').map((s) => s.trim())) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    const name = item.slice(0, eq).trim();
    const endpoint = item.slice(eq + 1).trim();
    if (eq <= 0 || !endpoint.startsWith('unix://')) {
      throw new Error(`"${item}" is not <kms provider name>=unix:///<socket path>`);
    }
    out[name] = endpoint;
  }
  return out;
}
