import {S3Client} from '@aws-sdk/client-s3'
import {describe, expect, it} from 'vitest'

import {FastS3} from '../../src/plugins/core/storage/fast-s3.js'

// The lean path must address a bucket exactly as the SDK would, or its requests go to the wrong host.
describe('FastS3 endpoint resolution (no network)', () => {
  const credentials = {accessKeyId: 'A', secretAccessKey: 'S'}
  const base = (fast: FastS3, bucket: string) => (fast as unknown as {base(bucket: string): Promise<URL>}).base(bucket)

  it('uses virtual-hosted addressing on AWS, path-style for names with dots', async () => {
    const client = new S3Client({region: 'eu-west-1', credentials})
    const fast = new FastS3(client, 4)
    expect((await base(fast, 'my-bucket')).href).toBe('https://my-bucket.s3.eu-west-1.amazonaws.com/')
    expect((await base(fast, 'my.dotted.bucket')).href).toBe('https://s3.eu-west-1.amazonaws.com/my.dotted.bucket')
    fast.close()
  })

  it('uses path-style on a custom endpoint', async () => {
    const client = new S3Client({region: 'us-east-1', credentials, endpoint: 'http://127.0.0.1:9000', forcePathStyle: true})
    const fast = new FastS3(client, 4)
    expect((await base(fast, 'bucket-a')).href).toBe('http://127.0.0.1:9000/bucket-a')
    fast.close()
  })
})
