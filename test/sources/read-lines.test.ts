import {describe, expect, it} from 'vitest'

import {readLines} from '../../src/plugins/core/sources/codec.js'

async function linesOf(chunks: (string | Buffer)[]): Promise<string[]> {
  const out: string[] = []
  let expected = 1
  for await (const line of readLines(
    (async function* () {
      for (const chunk of chunks) yield typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    })(),
  )) {
    expect(line.number).toBe(expected++)
    out.push(line.text)
  }
  return out
}

describe('readLines (core)', () => {
  it('joins lines split over many chunks, CRLF split between chunks, and UTF-8 split inside a character', async () => {
    const euro = Buffer.from('€')
    expect(await linesOf(['a', 'b', 'c\r', '\nd', Buffer.from([0x78, euro[0]]), Buffer.from([euro[1], euro[2], 0x0a]), '\n', 'last\r'])).toEqual(['abc', 'dx€', '', 'last'])
  })

  it('keeps a multi-megabyte line arriving in 16 KiB chunks intact', async () => {
    const long = 'x'.repeat(4 << 20)
    const text = Buffer.from(`{"a":1}\n${long}\n{"b":2}`)
    const chunks: Buffer[] = []
    for (let i = 0; i < text.length; i += 16384) chunks.push(text.subarray(i, i + 16384))
    const lines = await linesOf(chunks)
    expect(lines.map((line) => line.length)).toEqual([7, long.length, 7])
    expect(lines[1] === long).toBe(true)
  })
})
