/**
 * Polls `check` every 50 ms until it returns a truthy value (returned), or fails naming `what` after `timeoutMs`.
 * For waiting on another process (a file shipped, a child started), never for timing anything.
 */
export async function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
