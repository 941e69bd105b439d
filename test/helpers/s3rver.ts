import {spawn} from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

/** s3rver's fixed credentials: it refuses any other access key id (it does not verify the signature itself). */
export const S3RVER_CREDENTIALS = {accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER'}

/**
 * The second S3 implementation of the suite: s3rver 3.x in a child process, storing objects in a fresh temporary
 * folder that `stop` removes. Unlike fauxqs it checks the access key, returns the whole object's MD5 as a multipart
 * upload's ETag and stores aws-chunked framing verbatim, so code that passes on both is S3 code, not fauxqs code.
 */
export async function startS3rver(): Promise<{endpoint: string; stop: () => Promise<void>}> {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'bw-s3rver-'))
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 's3rver-process.cjs')
  const child = spawn(process.execPath, ['--openssl-legacy-provider', script, directory], {stdio: ['pipe', 'pipe', 'inherit']})
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (chunk) => {
      out += chunk
      const line = out.split('\n')[0]
      if (out.includes('\n')) resolve((JSON.parse(line) as {port: number}).port)
    })
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code} before listening`)))
  })
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGTERM')
        await exited
      }
      await fs.rm(directory, {recursive: true, force: true})
    },
  }
}
