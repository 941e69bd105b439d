import {describe, expect, it} from 'vitest'

import {forEachLimit} from '../../src/plugins/core/kit/concurrency.js'

/** A promise and the functions that settle it. */
function deferred(): {promise: Promise<void>; resolve: () => void; reject: (error: Error) => void} {
  let resolve!: () => void
  let reject!: (error: Error) => void
  const promise = new Promise<void>((yes, no) => ((resolve = yes), (reject = no)))
  return {promise, resolve, reject}
}

describe('forEachLimit (the one bounded-concurrency adapter, over p-map)', () => {
  it('never runs more than the limit at once, and visits every item once', async () => {
    let running = 0
    let most = 0
    const seen: number[] = []
    await forEachLimit(
      Array.from({length: 50}, (_, index) => index),
      3,
      async (item) => {
        running++
        most = Math.max(most, running)
        await new Promise((resolve) => setImmediate(resolve))
        seen.push(item)
        running--
      },
    )
    expect(most).toBe(3)
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({length: 50}, (_, index) => index))
  })

  it('after the first failure starts nothing new, and throws it only once the work in flight has settled', async () => {
    const gates = Array.from({length: 10}, deferred)
    const started: number[] = []
    const finished: number[] = []
    const run = forEachLimit(gates.keys(), 3, async (index) => {
      started.push(index)
      await gates[index].promise
      finished.push(index)
    })
    let settled = false
    void run.catch(() => {}).finally(() => (settled = true))
    await new Promise((resolve) => setImmediate(resolve))
    expect(started).toEqual([0, 1, 2])
    gates[1].reject(new Error('item 1 failed'))
    await new Promise((resolve) => setImmediate(resolve))
    // 0 and 2 are still in flight: the call has not returned, and nothing new was started.
    expect(settled).toBe(false)
    expect(started).toEqual([0, 1, 2])
    gates[0].resolve()
    gates[2].resolve()
    await expect(run).rejects.toThrow('item 1 failed')
    expect(finished.sort()).toEqual([0, 2])
    expect(started).toEqual([0, 1, 2])
  })

  it('reads an async iterable only as slots free up, and stops reading it after a failure', async () => {
    let pulled = 0
    const items = async function* () {
      for (let index = 0; index < 1000; index++) {
        pulled++
        yield index
      }
    }
    await expect(
      forEachLimit(items(), 2, async (index) => {
        if (index === 5) throw new Error('stop at 5')
      }),
    ).rejects.toThrow('stop at 5')
    expect(pulled).toBeLessThan(20)
  })

  it('waits for the work in flight when the items themselves throw', async () => {
    const gate = deferred()
    let finished = false
    const items = async function* () {
      yield 1
      await new Promise((resolve) => setImmediate(resolve))
      throw new Error('listing failed')
    }
    const run = forEachLimit(items(), 4, async () => {
      await gate.promise
      finished = true
    })
    let settled = false
    void run.catch(() => {}).finally(() => (settled = true))
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
    expect(settled).toBe(false)
    gate.resolve()
    await expect(run).rejects.toThrow('listing failed')
    expect(finished).toBe(true)
  })
})
