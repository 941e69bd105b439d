// A worker thread of the scan pool: reads JSONL outputs end to end and validates their records, one file a job.
import {parentPort} from 'node:worker_threads'

import {RecordValidator} from '../schema/validator.js'
import type {JsonSchema} from '../sources/types.js'
import type {ScanJob, ScanReply} from './scan-pool.js'
import {scanJsonl} from './scan.js'

let compiled: {schema: JsonSchema; validator: Promise<RecordValidator>} | undefined

// Every failure of a job is caught and sent back as its reply, so nothing waits on the promise.
parentPort!.on('message', (job: ScanJob) => void scanFile(job))

async function scanFile(job: ScanJob): Promise<void> {
  try {
    if (compiled?.schema !== job.schema && job.schema) compiled = {schema: job.schema, validator: RecordValidator.create(job.schema)}
    // A fork per file: the file's own tally, merged by the main thread in file order.
    const validator = job.schema ? (await compiled!.validator).fork() : undefined
    const scan = await scanJsonl(job.filePath, {...job.options, validator})
    const reply: ScanReply = {id: job.id, scan, tally: validator && {recordsChecked: validator.recordsChecked, recordsInvalid: validator.recordsInvalid, violations: validator.violations()}}
    parentPort!.postMessage(reply)
  } catch (error) {
    parentPort!.postMessage({id: job.id, error: (error as Error).message} satisfies ScanReply)
  }
}
