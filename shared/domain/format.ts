// Short, human-readable lists for reasons and notes: a status line must stay readable (and an
// annotation small) even when thousands of objects or apiservers are involved.

/**
 * Joins names, showing at most `max` of them and how many more there are.
 *
 * @example listNames(['a', 'b', 'c'], { max: 2 }) // 'a, b and 1 more'
 */
export function listNames(names: readonly string[], { max = 5 }: { max?: number } = {}): string {
  if (names.length === 0) return '(none)';
  const shown = names.slice(0, Math.max(1, max));
  const rest = names.length - shown.length;
  return rest > 0 ? `${shown.join(', ')} and ${rest} more` : shown.join(', ');
}

/** `text` on one line, cut to `max` characters with an ellipsis. */
export function oneLine(text: string, { max = 160 }: { max?: number } = {}): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
