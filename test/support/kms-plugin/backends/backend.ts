// What the sandbox KMS v2 plugin needs from whatever holds its keys: the key_id it reports, and
// wrapping/unwrapping the apiserver's DEK seed. The local keyring, AWS KMS and GCP Cloud KMS
// (through rekey's adapters, against their local endpoints) each implement it.

export interface WrapResult {
  ciphertext: Buffer;
  /** The key_id the ciphertext was made under: Status must report the same, or the apiserver refuses it. */
  keyId: string;
  annotations: Record<string, Buffer>;
}

export interface KeyBackend {
  /** Shown in logs and the ready line, e.g. `keyring`, `aws:<arn>`. */
  readonly describe: string;
  current(): Promise<string>;
  encrypt(plaintext: Buffer): Promise<WrapResult>;
  decrypt(request: {
    keyId: string;
    ciphertext: Buffer;
    annotations: Record<string, Buffer>;
  }): Promise<Buffer>;
}

/** A failure the plugin reports with a specific gRPC status instead of UNAVAILABLE. */
export class BackendError extends Error {
  override name = 'BackendError';
  readonly kind: 'not-found' | 'invalid';
  constructor(kind: 'not-found' | 'invalid', message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
  }
}
