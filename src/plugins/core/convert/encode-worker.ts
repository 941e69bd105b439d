/**
 * Worker thread of convert: loads the data source once, then encodes chunks (decode → JSONL → gzip member / zstd
 * frame) as the main thread sends them, so both cores work while the main thread fetches and uploads.
 */
import {parentPort, workerData} from 'node:worker_threads'

import {RecordValidator} from '../schema/validator.js'
import {type ChunkJob, encodeChunk} from './chunk-encoder.js'
import {loadSource, type SourceLoader} from './source-handle.js'

const port = parentPort!
const ready = loadSource((workerData as {loader: SourceLoader}).loader)

port.on('message', (job: ChunkJob) => {
  void (async () => {
    try {
      const source = await ready
      const validator = job.validate && source.schema ? await RecordValidator.create(source.schema) : undefined
      const result = await encodeChunk(job, source, validator)
      const data = result.data
      port.postMessage({ok: true, result}, data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? [data.buffer as ArrayBuffer] : [])
    } catch (error) {
      port.postMessage({ok: false, id: job.id, message: (error as Error).message, stack: (error as Error).stack})
    }
  })()
})
