const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i
const SIZE = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib|k|m|g)?$/i
const DURATION_MS: Record<string, number> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000}
const SIZE_BYTES: Record<string, number> = {b: 1, k: 1000, kb: 1000, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3}

/** `30s`, `10m`, `1h`, `500ms` (a bare number is seconds) in milliseconds; throws on anything else. */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim())
  if (!match) throw new Error(`"${text}" is not a duration like 30s, 10m or 1h`)
  return Math.round(Number(match[1]) * DURATION_MS[(match[2] ?? 's').toLowerCase()])
}

/** `100MB` (10^6), `64MiB` (2^20), `1GB`, a bare number of bytes; throws on anything else. */
export function parseSize(text: string): number {
  const match = SIZE.exec(text.trim())
  if (!match) throw new Error(`"${text}" is not a size like 100MB or 64MiB`)
  return Math.round(Number(match[1]) * SIZE_BYTES[(match[2] ?? 'b').toLowerCase()])
}
