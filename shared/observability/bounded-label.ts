// A metric label whose values come from senders (a CloudEvent's `type`): each distinct value is a
// new time series kept for the life of the process, so a sender posting made-up types could grow
// rekey's memory without end. The first `maxValues` distinct values keep their own series; later
// ones share `other`. Long values are cut.

/** The label value to record for `value`, remembering at most `maxValues` distinct ones. */
export type BoundedLabel = (value: string) => string;

export const OTHER_LABEL = 'other';

/**
 * @example
 * const typeLabel = boundedLabel({ maxValues: 2 });
 * typeLabel('a'); typeLabel('b'); typeLabel('c'); // 'a', 'b', 'other'
 */
export function boundedLabel({
  maxValues = 64,
  maxLength = 120,
}: {
  maxValues?: number;
  maxLength?: number;
} = {}): BoundedLabel {
  const seen = new Set<string>();
  return (value) => {
    const v = value.length > maxLength ? value.slice(0, maxLength) : value;
    if (seen.has(v)) return v;
    if (seen.size >= maxValues) return OTHER_LABEL;
    seen.add(v);
    return v;
  };
}
