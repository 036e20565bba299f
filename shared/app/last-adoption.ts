// The adoption snapshot a step last read, kept for /readyz. Readiness must not depend on the
// apiservers: a probe that scraped every apiserver's /metrics would make a function unready
// exactly during the outage rekey is built to wait out. So a probe only reports what the last
// step (or status) read, and how old it is; it never calls out.
import type { AdoptionReader, AdoptionSnapshot } from '../ports/adoption-reader.ts';
import type { Clock } from '../ports/clock.ts';

/** The newest snapshot read through the reader, and when. */
export interface LastAdoption {
  snapshot: AdoptionSnapshot;
  readAt: Date;
}

/** `reader`, remembering each snapshot it returns; `last()` is local work only. */
export function rememberingAdoption(
  reader: AdoptionReader,
  clock: Clock,
): { reader: AdoptionReader; last(): LastAdoption | undefined } {
  let last: LastAdoption | undefined;
  return {
    reader: {
      async read() {
        const snapshot = await reader.read();
        last = { snapshot, readAt: clock.now() };
        return snapshot;
      },
      hurry: () => reader.hurry(),
    },
    last: () => last,
  };
}
