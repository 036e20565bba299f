// Knative ApiServerSource events about rekey's own objects (docs/kms-facts.md §9): revision Secrets
// (`encryption-key-<provider>-<n>`) and key-id report ConfigMaps (`key-id-report-*`). Only
// Reference mode is accepted: Resource mode puts the whole object, Secret data included, into the
// event, which rekey must never receive, log or forward (docs/architecture.md R12). Pure: no I/O.
import { z } from 'zod';
import { parseRevisionName } from '../revision.ts';
import {
  clip,
  describeIssues,
  isParseError,
  type ParseError,
  parseJsonData,
} from './kms-trigger.ts';

export const APISERVER_REF_CE_PREFIX = 'dev.knative.apiserver.ref.';
export const APISERVER_RESOURCE_CE_PREFIX = 'dev.knative.apiserver.resource.';
const REPORT_NAME_PREFIX = 'key-id-report-';

export type ApiServerOp = 'add' | 'update' | 'delete';

export interface ClusterTrigger {
  kind: 'revision-changed' | 'report-changed' | 'other';
  /** Empty for a cluster-scoped object. */
  namespace: string;
  name: string;
  op: ApiServerOp;
}

const Reference = z.object({
  kind: z.string().min(1),
  namespace: z.string().nullish(),
  name: z.string().min(1),
  apiVersion: z.string().min(1),
});

function opOf(type: string): ApiServerOp | undefined {
  const op = type.slice(APISERVER_REF_CE_PREFIX.length);
  return op === 'add' || op === 'update' || op === 'delete' ? op : undefined;
}

function kindOf(ref: z.infer<typeof Reference>): ClusterTrigger['kind'] {
  const core = ref.apiVersion === 'v1';
  if (core && ref.kind === 'Secret' && parseRevisionName(ref.name)) return 'revision-changed';
  if (core && ref.kind === 'ConfigMap' && ref.name.startsWith(REPORT_NAME_PREFIX)) {
    return 'report-changed';
  }
  return 'other';
}

/**
 * An ApiServerSource CloudEvent as the object it names and what happened to it. Resource-mode
 * events are rejected without reading their data.
 */
export function parseApiServerSourceEvent(ce: {
  type: string;
  data: unknown;
  source?: string;
}): ClusterTrigger | ParseError {
  if (ce.type.startsWith(APISERVER_RESOURCE_CE_PREFIX)) {
    return {
      error:
        'ApiServerSource Resource mode is not accepted: it puts the whole object (Secret data ' +
        'included) into the event; configure the ApiServerSource with mode: Reference',
    };
  }
  const op = ce.type.startsWith(APISERVER_REF_CE_PREFIX) ? opOf(ce.type) : undefined;
  if (!op) return { error: `not an ApiServerSource Reference-mode type: "${clip(ce.type)}"` };
  const json = parseJsonData('ApiServerSource data', ce.data);
  if (isParseError(json)) return json;
  const ref = Reference.safeParse(json.value);
  if (!ref.success) return describeIssues('malformed ApiServerSource reference', ref.error);
  return { kind: kindOf(ref.data), namespace: ref.data.namespace ?? '', name: ref.data.name, op };
}
