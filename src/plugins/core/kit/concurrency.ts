import pMap, {pMapStop} from 'p-map'

/**
 * Runs `work` over items (an array, a generator, or an async iterable, read only as slots free up) with at most
 * `limit` calls in flight. The first failure stops new work, and the call settles only once the work in flight has,
 * then throws that failure: nothing keeps writing after it returns. p-map's own failure rejects at once and leaves
 * the other calls running, which is why this adapter exists.
 */
export async function forEachLimit<T>(items: Iterable<T> | AsyncIterable<T>, limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let failure: {error: unknown} | undefined
  const running = new Set<Promise<unknown>>()
  try {
    await pMap(
      items,
      (item, index) => {
        if (failure) return pMapStop
        const done = work(item, index).then(
          () => undefined,
          (error: unknown) => {
            failure ??= {error}
            return pMapStop
          },
        )
        running.add(done)
        void done.then(() => running.delete(done))
        return done
      },
      {concurrency: Math.max(1, limit)},
    )
  } finally {
    // Whatever ended the run (a failure, or the items themselves throwing), the calls still in flight settle first.
    await Promise.all(running)
  }
  if (failure) throw failure.error
}
