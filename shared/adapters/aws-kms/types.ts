// What rekey reads from and does to an AWS KMS key: the shapes the AWS adapter returns, in rekey's
// names (camelCase, no SDK types), and the operations it guarantees.

/** DescribeKey, reduced to what rekey decides with. */
export interface AwsKeyDescription {
  /** The key ARN; it never changes, not even when AWS rotates the key material. */
  arn: string;
  /** The key id (UUID, or `mrk-…` for a multi-Region key). */
  keyId: string;
  /** The material that encrypts now (64 hex chars); absent on keys and emulators without it. */
  currentKeyMaterialId?: string;
  /** Only when asked for (`withRotationStatus`); undefined if the key cannot rotate. */
  rotationEnabled?: boolean;
  /** `Enabled`, `Disabled`, `PendingDeletion`, `PendingImport`, … */
  keyState: string;
  /** `AWS_KMS`, `EXTERNAL`, `AWS_CLOUDHSM`, `EXTERNAL_KEY_STORE`. */
  origin: string;
  keySpec?: string;
}

/** GetKeyRotationStatus. */
export interface AwsRotationStatus {
  enabled: boolean;
  /** Set while an on-demand rotation is in progress (it is asynchronous on AWS). */
  onDemandRotationStartDate?: Date;
  nextRotationDate?: Date;
  rotationPeriodInDays?: number;
}

/** One ListKeyRotations entry: a completed rotation and the material it made current. */
export interface AwsKeyRotation {
  keyMaterialId?: string;
  rotationDate?: Date;
  /** `AUTOMATIC` or `ON_DEMAND`. */
  rotationType?: string;
  /** `CURRENT` or `NON_CURRENT` where AWS reports it. */
  keyMaterialState?: string;
}

export interface AwsEncryptResult {
  ciphertext: Uint8Array;
  /** The ARN of the key that encrypted (AWS returns the ARN even when given an alias). */
  keyArn: string;
}

export interface AwsDecryptResult {
  plaintext: Uint8Array;
  keyArn?: string;
  /** The material that had encrypted the ciphertext, when the service reports it. */
  keyMaterialId?: string;
}

export interface RotateOnDemandOptions {
  /** Interval between GetKeyRotationStatus polls; default 2000 ms. */
  pollMs?: number;
  /** Give up (AwsKmsTransientError `RotationPending`) after this long; default 10 minutes. */
  timeoutMs?: number;
}

export interface EncryptionOptions {
  encryptionContext?: Record<string, string>;
}

export interface DecryptOptions extends EncryptionOptions {
  /** When set, AWS refuses ciphertext of any other key (IncorrectKeyException). */
  keyId?: string;
}

/**
 * rekey's AWS KMS operations. Every method rejects only with AwsKmsTransientError or
 * AwsKmsPermanentError. `keyId` accepts a key id, key ARN, alias name or alias ARN.
 */
export interface AwsKms {
  describeKey(
    keyId: string,
    options?: { withRotationStatus?: boolean },
  ): Promise<AwsKeyDescription>;
  rotationStatus(keyId: string): Promise<AwsRotationStatus>;
  /** Every completed rotation, in the order AWS lists them, across all pages. */
  listRotations(keyId: string, options?: { pageSize?: number }): Promise<AwsKeyRotation[]>;
  /**
   * Starts an on-demand rotation and waits until it has completed (AWS rotates asynchronously);
   * resolves with the material that is current afterwards.
   */
  rotateOnDemand(keyId: string, options?: RotateOnDemandOptions): Promise<string>;
  /** The current material: `CurrentKeyMaterialId`, else the newest rotation, else `original`. */
  currentMaterial(keyId: string): Promise<string>;
  /** `<KeyArn>#<current material>`: changes exactly when AWS rotates the key material. */
  keyIdentity(keyId: string): Promise<string>;
  encrypt(
    keyId: string,
    plaintext: Uint8Array,
    options?: EncryptionOptions,
  ): Promise<AwsEncryptResult>;
  decrypt(ciphertext: Uint8Array, options?: DecryptOptions): Promise<AwsDecryptResult>;
  /** Closes the SDK client's sockets. */
  close(): void;
}
