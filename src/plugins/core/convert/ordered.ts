/**
 * Maps items with up to `concurrency` calls in flight, yielding results in input order. Work starts only as the
 * consumer pulls, so results waiting for their turn never exceed `concurrency`: a bounded read-ahead.
 */
export async function* orderedMap<T, R>(items: Iterable<T> | AsyncIterable<T>, concurrency: number, fn: (item: T, index: number) => Promise<R>): AsyncIterable<R> {
  const window: Promise<R>[] = []
  const source = (Symbol.asyncIterator in items ? (items as AsyncIterable<T>)[Symbol.asyncIterator]() : toAsync(items as Iterable<T>))
  let index = 0
  let exhausted = false
  const topUp = async () => {
    while (!exhausted && window.length < Math.max(1, concurrency)) {
      const next = await source.next()
      if (next.done) {
        exhausted = true
        break
      }
      const promise = fn(next.value, index++)
      // Rejections surface when the result's turn comes; until then they must not count as unhandled.
      promise.catch(() => {})
      window.push(promise)
    }
  }
  try {
    for (;;) {
      await topUp()
      const head = window.shift()
      if (!head) return
      yield await head
    }
  } finally {
    await source.return?.()
  }
}

async function* toAsyncGen<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items
}

function toAsync<T>(items: Iterable<T>): AsyncIterator<T> {
  return toAsyncGen(items)[Symbol.asyncIterator]()
}
