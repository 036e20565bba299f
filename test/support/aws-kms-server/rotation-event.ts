// The EventBridge `KMS CMK Rotation` event AWS sends after a rotation (docs/kms-facts.md §9), for a
// rotation the local KMS performed, so e2e tests can post what AWS would have delivered.
import { randomUUID } from 'node:crypto';

export type RotationType = 'AUTOMATIC' | 'ON_DEMAND';

export interface KmsRotationEvent {
  version: '0';
  id: string;
  'detail-type': 'KMS CMK Rotation';
  source: 'aws.kms';
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: {
    'key-id': string;
    'key-origin': string;
    'rotation-type': RotationType;
    'previous-key-material-id': string;
    'current-key-material-id': string;
  };
}

export function rotationEvent(args: {
  account: string;
  region: string;
  keyArn: string;
  keyId: string;
  origin: string;
  type: RotationType;
  previousMaterialId: string;
  currentMaterialId: string;
  atMs: number;
}): KmsRotationEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'KMS CMK Rotation',
    source: 'aws.kms',
    account: args.account,
    // EventBridge times carry whole seconds.
    time: new Date(Math.floor(args.atMs / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
    region: args.region,
    resources: [args.keyArn],
    detail: {
      'key-id': args.keyId,
      'key-origin': args.origin,
      'rotation-type': args.type,
      'previous-key-material-id': args.previousMaterialId,
      'current-key-material-id': args.currentMaterialId,
    },
  };
}
