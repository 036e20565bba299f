// The event fixtures of test/fixtures/events as the e2e tests deliver them: a fixture parsed, and
// the TriggerMesh form of an AWS event as the binary-mode parts deliver() takes.
import { readFileSync } from 'node:fs';

/** A fixture of test/fixtures/events, parsed (a fresh copy on every call). */
export function eventFixture(name: string): Record<string, unknown> {
  return JSON.parse(
    readFileSync(new URL(`../fixtures/events/${name}`, import.meta.url), 'utf8'),
  ) as Record<string, unknown>;
}

/** A TriggerMesh-form CloudEvent fixture (e.g. ce-triggermesh-eventbridge.json) as binary-mode parts. */
export function triggermeshEvent(name = 'ce-triggermesh-eventbridge.json') {
  const { type, source, id, data, awseventssource, awseventsdetailtype } = eventFixture(name);
  return {
    type: String(type),
    source: String(source),
    id: String(id),
    data,
    extensions: {
      awseventssource: String(awseventssource),
      awseventsdetailtype: String(awseventsdetailtype),
    },
  };
}
