// Racing a wait against a signal: a backoff between attempts must not outlive the step that waits
// (a lost Lease, a passed deadline), and node's timers/promises cannot race an injected sleep.

/** `promise`, or a rejection with the signal's reason as soon as it aborts, whichever is first. */
export async function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
