// The spec of an EncryptionSwitch (infra/base/crd-encryptionswitches.yaml): the operator's declared
// desired state, "this provider protects these resources". The CRD's schema and CEL rules refuse
// most bad input at admission; this is rekey's own reading of it, the same rules as
// `rekey encryption switch --to` (./target.ts), so a CRD installed without its validation (or an
// older one) cannot make rekey act on input it would refuse on the command line.
import { InvalidGroupResourceError, parseGroupResource } from '../group-resource.ts';
import { parseSwitchTarget, type SwitchTarget, SwitchTargetError } from './target.ts';

/** The one EncryptionSwitch rekey acts on: the cluster has one set of providers. */
export const ENCRYPTION_SWITCH_NAME = 'cluster';

export interface EncryptionSwitchSpec {
  target: SwitchTarget;
  /** Undefined: the resources the current write provider covers (the first entry's). */
  resources?: string[] | undefined;
}

export type SpecReading = { spec: EncryptionSwitchSpec } | { invalid: string };

/** Reads `spec` as stored (unknown shape): the switch it declares, or why rekey refuses it. */
export function readSwitchSpec(spec: unknown): SpecReading {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    return { invalid: 'spec is missing' };
  }
  const { target, resources } = spec as { target?: unknown; resources?: unknown };
  if (typeof target !== 'string' || target.trim() === '') {
    return { invalid: 'spec.target is required: identity, aescbc, secretbox or kms:<name>' };
  }
  let parsed: SwitchTarget;
  try {
    parsed = parseSwitchTarget(target);
  } catch (err) {
    if (err instanceof SwitchTargetError) {
      return { invalid: err.message.replace(/^--to must be/, 'spec.target must be') };
    }
    throw err;
  }
  if (resources === undefined || resources === null) return { spec: { target: parsed } };
  if (!Array.isArray(resources) || resources.some((r) => typeof r !== 'string')) {
    return { invalid: 'spec.resources must be a list of resource names' };
  }
  const list = [...new Set((resources as string[]).map((r) => r.trim()))];
  for (const r of list) {
    try {
      parseGroupResource(r);
    } catch (err) {
      if (!(err instanceof InvalidGroupResourceError)) throw err;
      return { invalid: `spec.resources: ${err.message}` };
    }
  }
  if (list.length === 0) return { spec: { target: parsed } };
  return { spec: { target: parsed, resources: list } };
}
