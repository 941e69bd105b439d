import type {Readable} from 'node:stream'

import {type DataSource, readAll, type RawObjectRef, type SourceRecord} from '../core/source-kit.js'
import {generateBustimes} from './generate.js'
import {bustimesLayout, snapshotTimeOf} from './layout.js'
import {vehicleSchema} from './schema.js'
import {decodeVehicles, expectedSyntax, toJsonLines} from './vehicles.js'

export {generateBustimes} from './generate.js'
export {bustimesLayout, REPR_CUTOFF_KEY, REPR_CUTOFF_TIME, snapshotTimeOf} from './layout.js'
export {formatFloat, type LiteralSyntax, LiteralTranscoder, parsePythonLiteral, parseTranscoded, pythonLiteralToJson} from './python-literal/index.js'
export {vehicleSchema} from './schema.js'
export {decodeVehicles, expectedSyntax, toJsonLines, type VehicleLines} from './vehicles.js'

/**
 * TriMet vehicle positions as the `bustimes-data` bucket holds them: one object per minute with every vehicle,
 * Python-2 repr until 2021-11-10 07:15:05 UTC and JSON after. Each record is one vehicle plus `snapshot_time`.
 */
export const bustimesSource: DataSource = {
  name: 'bustimes',
  description: 'TriMet vehicle positions, one snapshot per object (Python-2 repr until 2021-11-10, JSON after)',
  layout: bustimesLayout,
  schema: vehicleSchema,
  timeField: 'snapshot_time',
  recordKey: ['vehicleID', 'snapshot_time'],

  async *decode(body: Readable, object: RawObjectRef): AsyncIterable<SourceRecord> {
    // Objects are ~300 KB: read whole, decode in one pass.
    yield* decodeVehicles(await readAll(body), object.key)
  },

  /** The fast path: vehicles straight to JSON lines, without building records (see {@link toJsonLines}). */
  toJsonLines(body: Uint8Array, object: RawObjectRef) {
    return toJsonLines(body, object.key)
  },

  formatOf(key: string): string {
    const snapshotTime = snapshotTimeOf(key)
    return snapshotTime === undefined ? 'unknown' : expectedSyntax(snapshotTime) === 'python' ? 'repr' : 'JSON'
  },

  recordTime(record: SourceRecord): Date | undefined {
    const value = record.snapshot_time
    return typeof value === 'string' ? new Date(value) : undefined
  },

  generate: generateBustimes,
}

export default bustimesSource
