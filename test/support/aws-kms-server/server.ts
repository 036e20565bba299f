// A local AWS KMS speaking the real wire protocol (AWS JSON 1.1: `POST /`, `X-Amz-Target:
// TrentService.<Op>`), so tests drive rekey's adapter through the real `@aws-sdk/client-kms`.
// SigV4 is not verified, but a SigV4 `Authorization` header is required, as AWS requires one.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decrypt, encrypt, generateDataKey } from './crypto-operations.ts';
import {
  cancelKeyDeletion,
  createAlias,
  createKey,
  describeKey,
  disableKey,
  enableKey,
  scheduleKeyDeletion,
} from './key-operations.ts';
import { KmsModel } from './model.ts';
import type { KmsRotationEvent } from './rotation-event.ts';
import {
  disableKeyRotation,
  enableKeyRotation,
  getKeyRotationStatus,
  listKeyRotations,
  rotateKeyOnDemand,
} from './rotation-operations.ts';
import { type JsonObject, KmsFault } from './wire.ts';

type Operation = (model: KmsModel, body: JsonObject) => JsonObject;

const OPERATIONS = new Map<string, Operation>([
  ['CreateKey', createKey],
  ['DescribeKey', describeKey],
  ['CreateAlias', createAlias],
  ['EnableKey', enableKey],
  ['DisableKey', disableKey],
  ['ScheduleKeyDeletion', scheduleKeyDeletion],
  ['CancelKeyDeletion', cancelKeyDeletion],
  ['EnableKeyRotation', enableKeyRotation],
  ['DisableKeyRotation', disableKeyRotation],
  ['GetKeyRotationStatus', getKeyRotationStatus],
  ['RotateKeyOnDemand', rotateKeyOnDemand],
  ['ListKeyRotations', listKeyRotations],
  ['Encrypt', encrypt],
  ['Decrypt', decrypt],
  ['GenerateDataKey', generateDataKey],
]);

const TARGET_PREFIX = 'TrentService.';
const CONTENT_TYPE = 'application/x-amz-json-1.1';
const MAX_BODY_BYTES = 1 << 20;

export interface AwsKmsServerOptions {
  /** How long after RotateKeyOnDemand the new material becomes current; default 300 ms. */
  rotationDelayMs?: number;
  region?: string;
  account?: string;
  /** The clock rotation delays are measured against; default Date.now. */
  now?: () => number;
}

/** A fault to answer instead of running the operation (test support for throttling, 5xx, …). */
export interface InjectedFault {
  /** Only this operation (default: any). */
  operation?: string;
  type: string;
  status?: number;
  message?: string;
  /** How many requests get it; default 1. */
  times?: number;
}

export interface AwsKmsServer {
  /** `http://127.0.0.1:<port>`, for the SDK's `endpoint`. */
  endpoint: string;
  region: string;
  account: string;
  /** Operation names in the order requests arrived (faulted ones included). */
  readonly calls: readonly string[];
  /** The EventBridge event of the key's newest completed rotation (undefined if none yet). */
  lastRotationEvent(keyId: string): KmsRotationEvent | undefined;
  /** Completes an AUTOMATIC rotation now, as AWS does on the key's schedule. */
  rotateAutomatically(keyId: string): KmsRotationEvent;
  failNext(fault: InjectedFault): void;
  close(): Promise<void>;
}

async function readJson(req: IncomingMessage): Promise<JsonObject> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new KmsFault('ValidationException', 'Request is too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let parsed: unknown;
  try {
    parsed = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new KmsFault(
      'SerializationException',
      'Start of structure or map found where not expected.',
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new KmsFault('SerializationException', 'The request body must be a JSON object.');
  }
  return parsed as JsonObject;
}

function send(res: ServerResponse, status: number, body: JsonObject): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': CONTENT_TYPE,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  });
  res.end(text);
}

function sendFault(res: ServerResponse, fault: KmsFault): void {
  res.setHeader('x-amzn-errortype', fault.type);
  send(res, fault.status, { __type: fault.type, message: fault.message });
}

/** Checks what AWS checks before routing; returns the operation name. */
function route(req: IncomingMessage): string {
  if (req.method !== 'POST' || (req.url ?? '/').split('?')[0] !== '/') {
    throw new KmsFault('UnknownOperationException', `${req.method} ${req.url} is not an operation`);
  }
  const auth = req.headers.authorization;
  if (!auth)
    throw new KmsFault('MissingAuthenticationTokenException', 'Missing Authentication Token');
  if (!auth.startsWith('AWS4-HMAC-SHA256 ')) {
    throw new KmsFault('IncompleteSignatureException', 'Authorization must be AWS4-HMAC-SHA256');
  }
  const target = req.headers['x-amz-target'];
  if (typeof target !== 'string' || !target.startsWith(TARGET_PREFIX)) {
    throw new KmsFault('UnknownOperationException', `unknown X-Amz-Target ${String(target)}`);
  }
  const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
  if (contentType !== CONTENT_TYPE) {
    throw new KmsFault('UnknownOperationException', `Content-Type must be ${CONTENT_TYPE}`);
  }
  return target.slice(TARGET_PREFIX.length);
}

/**
 * Starts the local KMS on 127.0.0.1 and a free port.
 *
 * @example
 * const server = await startAwsKmsServer();
 * const kms = createAwsKms({ endpoint: server.endpoint, region: server.region, credentials });
 */
export async function startAwsKmsServer({
  rotationDelayMs = 300,
  region = 'us-east-1',
  account = '111122223333',
  now = Date.now,
}: AwsKmsServerOptions = {}): Promise<AwsKmsServer> {
  const model = new KmsModel({ region, account, rotationDelayMs, now });
  const calls: string[] = [];
  const faults: Array<Required<Pick<InjectedFault, 'type' | 'times'>> & InjectedFault> = [];

  function takeFault(operation: string): KmsFault | undefined {
    const i = faults.findIndex((f) => f.operation === undefined || f.operation === operation);
    const f = faults[i];
    if (!f) return undefined;
    if (--f.times <= 0) faults.splice(i, 1);
    return new KmsFault(f.type, f.message ?? `injected ${f.type}`, f.status ?? 400);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const operation = route(req);
      calls.push(operation);
      const body = await readJson(req);
      const injected = takeFault(operation);
      if (injected) throw injected;
      const run = OPERATIONS.get(operation);
      if (!run) throw new KmsFault('UnknownOperationException', `${operation} is not supported`);
      send(res, 200, run(model, body));
    } catch (err) {
      sendFault(
        res,
        err instanceof KmsFault ? err : new KmsFault('KMSInternalException', String(err), 500),
      );
    }
  }

  const server = createServer((req, res) => void handle(req, res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    region,
    account,
    calls,
    lastRotationEvent: (keyId) => model.find(keyId).lastEvent,
    rotateAutomatically: (keyId) => model.rotate(model.findUsable(keyId), 'AUTOMATIC'),
    failNext: (fault) => faults.push({ ...fault, times: fault.times ?? 1 }),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) =>
        server.close((err) => (err ? reject(err) : resolve())),
      );
    },
  };
}
