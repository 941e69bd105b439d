import {afterEach, describe, expect, it} from 'vitest'

import {EncoderPool} from '../../src/plugins/core/convert/encoder-pool.js'
import {discardPrestarted, prestartEncoders, takePrestarted} from '../../src/plugins/core/convert/encoder-threads.js'
import {linesSource} from './helpers.js'

const body = (lines: object[]) => new Uint8Array(Buffer.from(lines.map((line) => JSON.stringify(line)).join('\n') + '\n'))

describe('encoder threads started early', () => {
  afterEach(() => discardPrestarted())

  it('are taken over by the pool, which sends them the source and encodes with them', async () => {
    const {source, loader} = await linesSource()
    const early = prestartEncoders(2)
    const pool = await EncoderPool.start(source, loader, 2)
    try {
      expect(pool.threadIds).toEqual(early)
      const time = Date.parse('2021-11-13T00:00:00Z')
      const results = await Promise.all(
        [0, 1, 2].map((id) =>
          pool.encode({id, objects: [{key: `events/2021-11-13/0${id}-00-00.ndjson`, size: 1, time, body: body([{id, speed: 1}])}], compression: 'none', level: 6, validate: false}),
        ),
      )
      expect(results.map((result) => [result.records, JSON.parse(Buffer.from(result.data).toString('utf8')).id])).toEqual([
        [1, 0],
        [1, 1],
        [1, 2],
      ])
      // Taken once: a second pool starts threads of its own.
      const second = await EncoderPool.start(source, loader, 2)
      expect(second.threadIds.some((id) => early.includes(id))).toBe(false)
      await second.close()
    } finally {
      await pool.close()
    }
  })

  it('are stopped, not used, when the pool wants another number of them', async () => {
    const {source, loader} = await linesSource()
    const early = prestartEncoders(1)
    const pool = await EncoderPool.start(source, loader, 2)
    try {
      expect(pool.threadIds.some((id) => early.includes(id))).toBe(false)
      expect(takePrestarted(1)).toBeUndefined()
      const result = await pool.encode({id: 0, objects: [{key: 'events/2021-11-13/00-00-00.ndjson', size: 1, time: Date.parse('2021-11-13T00:00:00Z'), body: body([{id: 7, speed: 1}])}], compression: 'gzip', level: 6, validate: false})
      expect(result.records).toBe(1)
    } finally {
      await pool.close()
    }
  })
})
