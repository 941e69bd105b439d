import {createHash} from 'node:crypto'

/** A number in [0, 1) fixed by `text`: the same bucket and seed always give the same draw. */
export function hashShare(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0) / 2 ** 32
}

/**
 * Chooses a reproducible share of labels (buckets): a label is in when the hash of `seed:label` falls below the
 * share, so adding buckets never changes the choice among the old ones. At least one label is chosen when any exist.
 */
export function chooseSample(labels: string[], share: number, seed: string): Set<string> {
  if (share >= 1) return new Set(labels)
  const draws = labels.map((label) => ({label, draw: hashShare(`${seed}:${label}`)}))
  const chosen = new Set(draws.filter((entry) => entry.draw < share).map((entry) => entry.label))
  if (chosen.size === 0 && draws.length > 0) chosen.add(draws.reduce((low, entry) => (entry.draw < low.draw ? entry : low)).label)
  return chosen
}

/** Parses `10%`, `0.1` or `1` into a share in (0, 1]; `undefined` for anything else. */
export function parseShare(text: string): number | undefined {
  const trimmed = text.trim()
  const value = trimmed.endsWith('%') ? Number(trimmed.slice(0, -1)) / 100 : Number(trimmed)
  return Number.isFinite(value) && value > 0 && value <= 1 ? value : undefined
}

/** A small seeded PRNG (mulberry32) for reproducible record samples. */
export function seededRandom(seed: string): () => number {
  let state = createHash('sha256').update(seed).digest().readUInt32LE(0)
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}
