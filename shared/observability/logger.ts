// JSON logs (pino) with the values rekey must never write out removed at the source: credentials
// (Authorization, cookies, tokens, webhook signatures) and any `data` field, which in Kubernetes
// objects and CloudEvents may hold secret material. Redaction covers the key at the top level and
// up to two objects deep (e.g. `req.headers.authorization`).

import { type DestinationStream, type LevelWithSilent, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/** Keys whose values are always replaced by `[redacted]`. */
export const REDACTED_KEYS = [
  'authorization',
  'cookie',
  'set-cookie',
  'token',
  'data',
  'secret',
  'secrets',
  'webhook-signature',
] as const;

function accessor(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? key : `["${key}"]`;
}

function join(prefix: string, key: string): string {
  const a = accessor(key);
  if (prefix === '') return a;
  return a.startsWith('[') ? `${prefix}${a}` : `${prefix}.${a}`;
}

/** The pino redact paths for {@link REDACTED_KEYS}, at depth 0, 1 and 2. */
export const REDACT_PATHS: readonly string[] = REDACTED_KEYS.flatMap((k) => [
  join('', k),
  join('*', k),
  join('*.*', k),
]);

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Logged as `name` on every line (the function name). */
  name: string;
  /** Lowest level written (default `info`). */
  level?: LevelWithSilent;
  /** Where lines go (default stdout); tests pass a stream to capture them. */
  destination?: DestinationStream;
}

/**
 * A pino logger writing one JSON object per line, with credentials and `data` redacted.
 *
 * @example const log = createLogger({ name: 'kms-event', level: 'debug' });
 */
export function createLogger({ name, level = 'info', destination }: LoggerOptions): Logger {
  const options = {
    name,
    level,
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}
