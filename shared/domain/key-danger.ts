// The dangers a revision's key is in (docs/architecture.md "Key dangers"): each noted once per
// (key, what, time) however often the KMS event is delivered, and cleared, not forgotten, when the
// KMS says it is over. A revision keeps them newest first in one note (Revision.keyDanger): the
// newest in the note itself, the rest in its `earlier`. Pure: no I/O.
import type { KeyDangerClearance, KeyDangerNote } from './revision.ts';

/** How many dangers one revision keeps (the oldest cleared ones go first). */
export const MAX_KEPT_DANGERS = 20;

/** What ends a danger: the key (and version) it concerns, and which dangers it ends. */
export interface DangerClearance extends KeyDangerClearance {
  key: string;
  clears: readonly string[];
  version?: string;
}

/** A revision's dangers as a list, newest first, each without `earlier`. */
export function dangersIn(note: KeyDangerNote | undefined): KeyDangerNote[] {
  if (!note) return [];
  const { earlier = [], ...newest } = note;
  return [newest, ...earlier.map(({ earlier: _, ...n }) => n)];
}

/** A list of dangers as the one note a revision keeps; undefined for none. */
export function noteOf(dangers: readonly KeyDangerNote[]): KeyDangerNote | undefined {
  const sorted = [...dangers].sort((a, b) => Date.parse(b.at) - Date.parse(a.at));
  while (sorted.length > MAX_KEPT_DANGERS) {
    const oldestCleared = sorted.findLastIndex((d) => d.cleared !== undefined);
    sorted.splice(oldestCleared === -1 ? sorted.length - 1 : oldestCleared, 1);
  }
  const [newest, ...earlier] = sorted;
  if (!newest) return undefined;
  return earlier.length > 0 ? { ...newest, earlier } : newest;
}

/** The dangers the KMS has not said are over, newest first. */
export function activeDangers(note: KeyDangerNote | undefined): KeyDangerNote[] {
  return dangersIn(note).filter((d) => d.cleared === undefined);
}

function normalisedKey(key: string): string {
  return key.replace(/\/+$/, '').toLowerCase();
}

function sameVersion(a?: string, b?: string): boolean {
  return a === undefined || b === undefined || a === b;
}

/** The same news: one danger, however often it is delivered. */
export function isSameDanger(a: KeyDangerNote, b: KeyDangerNote): boolean {
  return (
    normalisedKey(a.key) === normalisedKey(b.key) &&
    a.what === b.what &&
    Date.parse(a.at) === Date.parse(b.at)
  );
}

function ends(c: DangerClearance, d: KeyDangerNote): boolean {
  return (
    normalisedKey(c.key) === normalisedKey(d.key) &&
    c.clears.includes(d.what) &&
    sameVersion(c.version, d.version) &&
    Date.parse(d.at) <= Date.parse(c.at)
  );
}

export type DangerPlan =
  | { action: 'duplicate' }
  | { action: 'record'; note: KeyDangerNote; active: boolean };

/**
 * Adds a danger to a revision's note. `duplicate` when it is already noted (here, or on any of
 * `seen`: the provider's other revisions). A danger older than a clearance already noted for it
 * (events arrive in any order) is recorded as cleared by that clearance: not active.
 */
export function planDanger(
  note: KeyDangerNote | undefined,
  danger: KeyDangerNote,
  seen: readonly KeyDangerNote[] = [],
): DangerPlan {
  const dangers = dangersIn(note);
  const incoming = dangersIn(danger)[0] as KeyDangerNote;
  if ([...dangers, ...seen].some((d) => isSameDanger(d, incoming))) return { action: 'duplicate' };
  const laterClearance = dangers
    .flatMap((d): DangerClearance[] =>
      d.cleared
        ? [
            {
              ...d.cleared,
              key: d.key,
              clears: [d.what],
              ...(d.version ? { version: d.version } : {}),
            },
          ]
        : [],
    )
    .find((c) => ends(c, incoming));
  const recorded: KeyDangerNote = laterClearance
    ? {
        ...incoming,
        cleared: { at: laterClearance.at, via: laterClearance.via, by: laterClearance.by },
      }
    : incoming;
  return {
    action: 'record',
    note: noteOf([...dangers, recorded]) as KeyDangerNote,
    active: !laterClearance,
  };
}

/**
 * Ends the active dangers a clearance covers (same key, version when both name one, a danger it
 * lists, noted no later than the clearance). They stay in the note, marked `cleared`.
 */
export function planClearance(
  note: KeyDangerNote | undefined,
  clearance: DangerClearance,
): { note: KeyDangerNote; cleared: KeyDangerNote[] } | undefined {
  const cleared: KeyDangerNote[] = [];
  const { at, via, by } = clearance;
  const dangers = dangersIn(note).map((d) => {
    if (d.cleared || !ends(clearance, d)) return d;
    cleared.push(d);
    return { ...d, cleared: { at, via, by } };
  });
  if (cleared.length === 0) return undefined;
  return { note: noteOf(dangers) as KeyDangerNote, cleared };
}
