/**
 * Worker thread of convert: loads the data source once, then encodes chunks (decode → JSONL → gzip member / zstd
 * frame) as the main thread sends them, so both cores work while the main thread fetches and uploads.
 */
import {parentPort, workerData} from 'node:worker_threads'

import {RecordValidator} from '../schema/validator.js'
import type {DataSource} from '../sources/types.js'
import {type ChunkJob, encodeChunk} from './chunk-encoder.js'
import {settleDetachProtector} from './encoder-threads.js'
import {loadSource, type SourceLoader} from './source-handle.js'

// Before any code is hot: chunks' buffers are transferred both ways (see settleDetachProtector).
settleDetachProtector()

const port = parentPort!
// The loader comes with the thread, or first thing by message to a thread started before the command knew its
// source (see encoder-threads.ts).
const given = (workerData as {loader?: SourceLoader}).loader
let ready: Promise<DataSource> | undefined = given ? loadSource(given) : undefined

port.on('message', (message: ChunkJob | {loader: SourceLoader}) => {
  if ('loader' in message) {
    ready = loadSource(message.loader)
    ready.catch(() => {}) // reported with the first chunk
    return
  }
  const job = message
  void (async () => {
    try {
      if (!ready) throw new Error('no data source was sent to this encoder thread')
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
