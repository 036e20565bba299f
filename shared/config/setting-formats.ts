// The formats of settings that more than one module checks: the settings schema (config.ts) checks
// them at start-up so a bad value is refused naming its variable, and the modules that use the
// values (sender-auth, webhook-verify, webhook-sender) check the same rule for callers that bypass
// the schema. One definition, so the two checks can never disagree. Pure: no imports, no I/O.

/**
 * A ServiceAccount username as TokenReview reports it: `system:serviceaccount:<namespace>:<name>`,
 * the namespace a DNS label and the name a DNS subdomain.
 */
const SERVICE_ACCOUNT_USERNAME =
  /^system:serviceaccount:[a-z0-9]([-a-z0-9]*[a-z0-9])?:[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/;

/** What {@link isServiceAccountUsername} accepts, for messages. */
export const SERVICE_ACCOUNT_USERNAME_FORMAT = 'system:serviceaccount:<namespace>:<name>';

export function isServiceAccountUsername(value: string): boolean {
  return SERVICE_ACCOUNT_USERNAME.test(value);
}

const WEBHOOK_SECRET = /^whsec_([A-Za-z0-9+/]+={0,2})$/;

/** Shorter HMAC keys are guessable; Standard Webhooks generates 24 to 64 bytes. */
export const MIN_WEBHOOK_SECRET_BYTES = 16;

/** What {@link isWebhookSecret} accepts, for messages (never the secret itself). */
export const WEBHOOK_SECRET_FORMAT = `whsec_<base64 of at least ${MIN_WEBHOOK_SECRET_BYTES} bytes>`;

/**
 * Whether a Standard Webhooks secret can sign and verify: `whsec_` then the base64 of the key,
 * at least {@link MIN_WEBHOOK_SECRET_BYTES} long.
 *
 * @example isWebhookSecret(`whsec_${randomBytes(24).toString('base64')}`) // true
 */
export function isWebhookSecret(value: string): boolean {
  const m = WEBHOOK_SECRET.exec(value);
  return m?.[1] !== undefined && Buffer.from(m[1], 'base64').length >= MIN_WEBHOOK_SECRET_BYTES;
}
