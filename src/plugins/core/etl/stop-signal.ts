/**
 * An AbortSignal that fires on SIGTERM or SIGINT, so a long-running command (etl --watch, ingest) finishes what it
 * holds and returns normally instead of dying mid-write. `dispose()` removes the handlers.
 */
export function stopOnSignals(): {signal: AbortSignal; dispose: () => void} {
  const controller = new AbortController()
  const stop = () => controller.abort()
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGTERM', stop)
      process.off('SIGINT', stop)
    },
  }
}
