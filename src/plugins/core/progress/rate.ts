/** A duration for people: `45s`, `3m 05s`, `2h 07m`. */
export function formatDuration(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds))
  const h = Math.floor(whole / 3600)
  const m = Math.floor((whole % 3600) / 60)
  const s = whole % 60
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`
  return m > 0 ? `${m}m ${String(s).padStart(2, '0')}s` : `${s}s`
}

/**
 * The rate and time left of work whose total is known (a bucket's objects), for progress lines:
 * `1,900 records/s, ETA 1m 12s`. Both are averages since the start: a bucket's objects are alike, and an average
 * does not jump with each object. Nothing is claimed before a second has passed and some work is done.
 */
export class RateMeter {
  private readonly started: number

  /** Starts timing now. */
  constructor(private readonly clock: () => number = () => performance.now()) {
    this.started = clock()
  }

  /** `done` of `total` units, having produced `records` so far. */
  describe(done: number, total: number, records: number): string {
    const seconds = (this.clock() - this.started) / 1000
    if (done >= total && seconds > 0) return `${Math.round(records / seconds).toLocaleString('en-US')} records/s`
    if (seconds < 1 || done === 0) return 'ETA …'
    const rate = `${Math.round(records / seconds).toLocaleString('en-US')} records/s`
    return `${rate}, ETA ${formatDuration(((total - done) * seconds) / done)}`
  }
}
