/** A loopback S3-protocol server (fauxqs, in memory) on a free port. */
export async function startS3Server(): Promise<{endpoint: string; stop: () => Promise<void>}> {
  const {startFauxqs} = await import('fauxqs')
  const server = await startFauxqs({port: 0, host: '127.0.0.1', logger: false} as never)
  const port = (server as unknown as {port: number}).port
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: async () => {
      await (server as unknown as {stop: () => Promise<void>}).stop()
    },
  }
}
