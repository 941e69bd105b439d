import {randomBytes} from 'node:crypto'
import {crc32} from 'node:zlib'

/** The CRC-32 (IEEE, reflected) table zlib uses. */
const TABLE = Uint32Array.from({length: 256}, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})
/** Each table entry's top byte is unique: the index of the entry with a given top byte. */
const BY_TOP_BYTE = (() => {
  const index = new Uint8Array(256)
  for (let i = 0; i < 256; i++) index[TABLE[i] >>> 24] = i
  return index
})()

/**
 * Four bytes that, appended to `prefix`, give the whole a CRC-32 of `target`. After four bytes the CRC register
 * depends only on the four table indices used, and each index is found from a top byte; the bytes then follow from
 * the register before them.
 */
export function crc32Patch(prefix: Uint8Array, target: number): Buffer {
  let wanted = (target ^ 0xffffffff) >>> 0
  const indices: number[] = []
  for (let k = 0; k < 4; k++) {
    const index = BY_TOP_BYTE[wanted >>> 24]
    indices.unshift(index)
    wanted = ((wanted ^ TABLE[index]) << 8) >>> 0
  }
  let register = (crc32(prefix) ^ 0xffffffff) >>> 0
  const patch = Buffer.alloc(4)
  for (let k = 0; k < 4; k++) {
    patch[k] = (register ^ indices[k]) & 0xff
    register = ((register >>> 8) ^ TABLE[indices[k]]) >>> 0
  }
  return patch
}

/** A buffer of the same length and CRC-32 as `original`, with other bytes (random, then four computed ones). */
export function sameCrcOtherBytes(original: Uint8Array): Buffer {
  if (original.length < 5) throw new Error('need at least 5 bytes')
  const prefix = randomBytes(original.length - 4)
  const forged = Buffer.concat([prefix, crc32Patch(prefix, crc32(original) >>> 0)])
  if (crc32(forged) !== crc32(original) || forged.equals(original)) throw new Error('CRC-32 collision construction failed')
  return forged
}
