import type {ListManyOptions, ListOptions, ObjectInfo, Storage} from './types.js'

type Slot = {items: ObjectInfo[]; done: boolean; error?: unknown; wake?: () => void}
const YIELDED: Slot = {items: [], done: true}

/**
 * Lists many prefixes with up to `concurrency` listings in flight (default 32), yielding each prefix's keys in the
 * order the prefixes were given (so sorted, disjoint prefixes give a key-ordered stream). A prefix is started only
 * within `2 × concurrency` prefixes of the one being yielded, so a slow consumer holds a bounded number of listings;
 * finished ones are buffered until their turn comes, the one being yielded streams through.
 */
export async function* listManyInOrder(storage: Pick<Storage, 'list' | 'listPages'>, prefixes: string[], options: ListManyOptions = {}): AsyncIterable<ObjectInfo> {
  const concurrency = Math.max(1, options.concurrency ?? 32)
  const ahead = 2 * concurrency
  const progress = {prefixesDone: 0, prefixesTotal: prefixes.length, keysFound: 0}
  const slots: Slot[] = prefixes.map(() => ({items: [], done: false}))
  let next = 0
  let current = 0

  const runOne = async (index: number): Promise<void> => {
    const slot = slots[index]
    try {
      for await (const page of pagesOf(storage, prefixes[index], {signal: options.signal})) {
        const after = options.startAfter
        const kept = after === undefined ? page : page.filter((info) => info.key > after)
        for (const info of kept) slot.items.push(info)
        progress.keysFound += kept.length
        options.onProgress?.({...progress})
        slot.wake?.()
      }
    } catch (error) {
      slot.error = error
    } finally {
      slot.done = true
      progress.prefixesDone++
      options.onProgress?.({...progress})
      slot.wake?.()
    }
  }

  const workers = new Set<Promise<void>>()
  const fill = () => {
    while (workers.size < concurrency && next < prefixes.length && next < current + ahead) {
      const p: Promise<void> = runOne(next++).finally(() => {
        workers.delete(p)
        fill()
      })
      workers.add(p)
    }
  }
  fill()

  for (; current < slots.length; current++) {
    const slot = slots[current]
    fill()
    for (;;) {
      if (slot.items.length > 0) {
        const items = slot.items.splice(0)
        yield* items
        continue
      }
      if (slot.error) throw slot.error
      if (slot.done) {
        // Its keys are yielded: let go of the slot.
        slots[current] = YIELDED
        break
      }
      await new Promise<void>((resolve) => (slot.wake = resolve))
      slot.wake = undefined
    }
  }
}

/** A storage's listing a page at a time: its own {@link Storage.listPages}, or its {@link Storage.list} in pages of 1,000. */
export async function* pagesOf(storage: Pick<Storage, 'list' | 'listPages'>, prefix?: string, options?: ListOptions): AsyncIterable<ObjectInfo[]> {
  if (storage.listPages) {
    yield* storage.listPages(prefix, options)
    return
  }
  let page: ObjectInfo[] = []
  for await (const info of storage.list(prefix, options)) {
    page.push(info)
    if (page.length === 1000) {
      yield page
      page = []
    }
  }
  if (page.length > 0) yield page
}
