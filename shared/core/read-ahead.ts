// Reading one item ahead of a consumer: the next item of an async source is asked for as soon as
// the previous one is handed out, so the source's I/O (the next page's list and etcd read) runs
// while the consumer works on the current one (its patches). A consumer that stops early leaves
// at most the one item read ahead, which is waited for, not taken: nothing the source started is
// still running once the consumer is done with this generator.

/** Yields what `source` yields, with the next item already being read. */
export async function* readAhead<T>(source: AsyncIterable<T>): AsyncGenerator<T, void, undefined> {
  const it = source[Symbol.asyncIterator]();
  let next: Promise<IteratorResult<T>> | undefined = it.next();
  try {
    for (;;) {
      const r: IteratorResult<T> = await next;
      next = undefined;
      if (r.done) return;
      next = it.next();
      yield r.value;
    }
  } finally {
    if (next) {
      // the consumer stopped with an item being read: its outcome is nobody's, but it is waited out
      await next.catch(() => undefined);
      await Promise.resolve(it.return?.()).catch(() => undefined);
    }
  }
}
