import {describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {startPostgres} from '../helpers/postgres.js'
import {createTestBucket, testS3Client} from '../helpers/s3.js'
import {ListBucketsCommand} from '@aws-sdk/client-s3'

describe('test bench', () => {
  it('has a loopback S3 server', async () => {
    const bucket = await createTestBucket()
    const out = await testS3Client().send(new ListBucketsCommand({}))
    expect(out.Buckets?.map((b) => b.Name)).toContain(bucket)
  })
  it('starts a real PostgreSQL', async () => {
    const pg = await startPostgres()
    const {default: pgLib} = await import('pg')
    const client = new pgLib.Client({connectionString: pg.url})
    await client.connect()
    const res = await client.query('select 41 + 1 as answer')
    expect(res.rows[0].answer).toBe(42)
    await client.end()
    await pg.stop()
  })
  it('the built CLI prints one JSON document under --json', async () => {
    const run = await runCli(['sources', '--json'])
    expect(run.code).toBe(0)
    expect(JSON.parse(run.stdout)).toHaveProperty('sources')
  })
})
