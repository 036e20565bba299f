// The parts of a received CloudEvent the pure parsers read: core attributes plus every extension.
import type { CloudEvent } from 'cloudevents';
import { timeWasInvented } from './cloudevent-intake.ts';

const CORE = new Set([
  'id',
  'type',
  'source',
  'specversion',
  'time',
  'data',
  'data_base64',
  'datacontenttype',
  'dataschema',
  'subject',
]);

export interface CloudEventParts {
  id: string;
  type: string;
  source: string;
  time?: string;
  subject?: string;
  data: unknown;
  extensions: Record<string, unknown>;
}

export function toParts(ce: CloudEvent<unknown>): CloudEventParts {
  const extensions: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(ce)) if (!CORE.has(k) && v !== undefined) extensions[k] = v;
  return {
    id: ce.id,
    type: ce.type,
    source: ce.source,
    ...(ce.time && !timeWasInvented(ce) ? { time: ce.time } : {}),
    ...(ce.subject ? { subject: ce.subject } : {}),
    data: ce.data,
    extensions,
  };
}
