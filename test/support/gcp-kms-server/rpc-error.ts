// The error the local server's model throws: a gRPC status code and the message a client sees.
import type { status } from '@grpc/grpc-js';

export class RpcError extends Error {
  override readonly name = 'RpcError';
  readonly code: status;

  constructor(code: status, message: string) {
    super(message);
    this.code = code;
  }
}
