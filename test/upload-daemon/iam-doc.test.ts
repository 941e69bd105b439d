import {randomBytes} from 'node:crypto'
import {readFile} from 'node:fs/promises'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ROOT} from '../helpers/cli.js'
import {FaultProxy} from '../helpers/fault-proxy.js'
import {createTestBucket, s3Endpoint} from '../helpers/s3.js'
import {makeRoot, runDaemon, writeStable} from './helpers.js'

let proxy: FaultProxy
beforeAll(async () => {
  proxy = await new FaultProxy(s3Endpoint()).start()
})
afterAll(async () => {
  await proxy.stop()
})

/** The S3 operation of a path-style request, from its method, path and query. */
function operation(method: string, url: string): string {
  const {pathname, searchParams} = new URL(url, 'http://x')
  const onKey = pathname.split('/').filter(Boolean).length > 1
  if (pathname === '/') return 'ListBuckets'
  if (method === 'HEAD') return onKey ? 'HeadObject' : 'HeadBucket'
  if (method === 'GET' && !onKey) return searchParams.get('list-type') === '2' ? 'ListObjectsV2' : `GET bucket ${url}`
  if (method === 'GET') return searchParams.has('uploadId') ? 'ListParts' : 'GetObject'
  if (method === 'PUT') return searchParams.has('partNumber') ? 'UploadPart' : 'PutObject'
  if (method === 'POST') return searchParams.has('uploads') ? 'CreateMultipartUpload' : 'CompleteMultipartUpload'
  if (method === 'DELETE') return searchParams.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject'
  return `${method} ${url}`
}

describe('docs/upload-daemon.md IAM policy', () => {
  it('names every request the daemon makes, with its IAM action, and the policy grants each action', async () => {
    const root = await makeRoot()
    const bucket = await createTestBucket('bw-iam')
    // Eight or more in a folder: one listing; a lone file: a HEAD; above the threshold: multipart.
    for (let i = 0; i < 9; i++) await writeStable(path.join(root, bucket, 'many', `f${i}.txt`), `file ${i}`)
    await writeStable(path.join(root, bucket, 'lone', 'one.txt'), 'one')
    await writeStable(path.join(root, bucket, 'big.bin'), randomBytes(1536 * 1024))
    // A part refused: the multipart upload is aborted.
    await writeStable(path.join(root, bucket, 'refused.bin'), randomBytes(1536 * 1024))
    // A store whose ETags say nothing (neither the PUT's nor the HEAD's): the write is verified by reading it back.
    await writeStable(path.join(root, bucket, 'opaque.txt'), 'opaque')
    proxy.plan = ({method, url}) => {
      if (method === 'PUT' && url.includes('/refused.bin?') && url.includes('partNumber=')) return {type: 'status', status: 403, code: 'AccessDenied'}
      if ((method === 'PUT' || method === 'HEAD') && url.split('?')[0].endsWith('/opaque.txt')) return {type: 'tamper', responseHeaders: {etag: '"opaque-etag-of-no-digest"'}}
      return {type: 'pass'}
    }
    const from = proxy.requests.length
    try {
      const run = await runDaemon(['--once', '-d', root, '--endpoint', proxy.endpoint, '--multipart-threshold', '1', '--concurrency', '4'])
      expect(run.stderr).toMatch(/refused\.bin/)
      expect(run.stderr).toMatch(/opaque\.txt .*verified by reading it back/)
    } finally {
      proxy.plan = () => ({type: 'pass'})
    }
    const used = new Set(proxy.requests.slice(from).map((request) => operation(request.method, request.url)))
    // The scenario reaches every kind of request the daemon makes (else this test would prove little).
    expect([...used].sort()).toEqual(['AbortMultipartUpload', 'CompleteMultipartUpload', 'CreateMultipartUpload', 'GetObject', 'HeadBucket', 'HeadObject', 'ListBuckets', 'ListObjectsV2', 'PutObject', 'UploadPart'])

    const docs = await readFile(path.join(ROOT, 'docs', 'upload-daemon.md'), 'utf8')
    const section = docs.slice(docs.indexOf('## IAM policy'), docs.indexOf('\n## ', docs.indexOf('## IAM policy') + 1))
    const policy = JSON.parse(section.slice(section.indexOf('```json') + 7, section.indexOf('```', section.indexOf('```json') + 7))) as {Statement: {Action: string[]}[]}
    const granted = new Set(policy.Statement.flatMap((statement) => statement.Action))
    const rows = section.split('\n').filter((line) => line.startsWith('| `'))
    for (const name of used) {
      const row = rows.find((line) => line.split('|')[1].includes(`\`${name}\``))
      expect(row, `${name} is in the table`).toBeDefined()
      const actions = [...row!.split('|')[3].matchAll(/`(s3:\w+)`/g)].map((match) => match[1])
      // ListBuckets (only with --endpoint, optional) is the one action the policy need not grant.
      if (name !== 'ListBuckets') {
        expect(actions.length, `${name} names its action`).toBeGreaterThan(0)
        for (const action of actions) expect(granted.has(action), `${action} (for ${name}) is in the policy`).toBe(true)
      }
    }
  })
})
