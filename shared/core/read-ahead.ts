// Reading one item ahead of a consumer: the next item of an async source is asked for as soon as
// the previous one is handed out, so the source's I/O (the next page's list and etcd read) runs
// while the consumer works on the current one (its patches). A consumer that stops early leaves
// at most the one item read ahead: `onStop` is called so the source can cancel it (a list waiting
// out a Retry-After must not hold the step), and it is then waited out, not taken: nothing the
// source started is still running once the consumer is done with this generator.

/**
 * Yields what `source` yields, with the next item already being read. A read that fails while
 * the consumer is busy is thrown when the consumer asks for that item, never as an unhandled
 * rejection in between.
 */
export async function* readAhead<T>(
  source: AsyncIterable<T>,
  { onStop }: { onStop?: () => void } = {},
): AsyncGenerator<T, void, undefined> {
  const it = source[Symbol.asyncIterator]();
  const ask = () => {
    const p = it.next();
    // handled now (the consumer may be busy for a while); awaited, it still throws
    p.catch(() => undefined);
    return p;
  };
  let next: Promise<IteratorResult<T>> | undefined = ask();
  try {
    for (;;) {
      const r: IteratorResult<T> = await next;
      next = undefined;
      if (r.done) return;
      next = ask();
      yield r.value;
    }
  } finally {
    if (next) {
      // the consumer stopped with an item being read: cancelled, then waited out
      onStop?.();
      await next.catch(() => undefined);
      await Promise.resolve(it.return?.()).catch(() => undefined);
    }
  }
}
