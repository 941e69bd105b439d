import type {DataSource} from '../core/source-kit.js'
import {decodeBsmObject} from './decode.js'
import {type BsmGeneratorSettings, generateBsm, generatorSettings} from './generate.js'
import {bsmLayout} from './layout.js'
import {bsmSchema} from './schema.js'
import {bsmRecordTime} from './time.js'

/**
 * USDOT ITS connected-vehicle pilot BSM records from Wyoming (`s3://usdot-its-cvpilot-publicdata/wydot/BSM/…`).
 * Records are passed through as the ODE wrote them; their time is `metadata.recordGeneratedAt` (v1:
 * `metadata.generatedAt`), with or without the `[UTC]` suffix. Option `prefix`: the key prefix before the date
 * (default `wydot/BSM/`; empty when the location already points at the BSM folder).
 */
export function wydotBsmSource(prefix = 'wydot/BSM/', generator: BsmGeneratorSettings = {}): DataSource {
  const layout = bsmLayout(prefix)
  return {
    name: 'wydot-bsm',
    description: 'WYDOT connected-vehicle Basic Safety Messages (USDOT ITS CV pilot, ODE schema v1–v6)',
    layout,
    decode: (body) => decodeBsmObject(body),
    schema: bsmSchema,
    timeField: 'metadata.recordGeneratedAt',
    recordTime: bsmRecordTime,
    recordKey: ['metadata.serialId.streamId', 'metadata.serialId.bundleId', 'metadata.serialId.recordId'],
    generate: (options) => generateBsm(options, layout, generator),
    options: {
      prefix: 'key prefix before YYYY/MM/DD/HH/ (default wydot/BSM/; empty when the location is the BSM folder)',
      vehicles: 'generate: vehicles on the road at once (default 50)',
      anomalies: 'generate: fraction of records that are anomalies — position jumps, speed spikes, replays, spoofed ids — each marked in metadata.anomaly (default 0)',
      bbox: 'generate: minLon,minLat,maxLon,maxLat that every position stays inside (default Wyoming: -111.05,41,-104.05,45)',
    },
    configure(options) {
      const unknown = Object.keys(options).filter((key) => !['prefix', 'vehicles', 'anomalies', 'bbox'].includes(key))
      if (unknown.length > 0) throw new Error(`unknown option ${unknown.join(', ')} (wydot-bsm takes: prefix, vehicles, anomalies, bbox)`)
      let chosen = options.prefix ?? prefix
      if (chosen && !chosen.endsWith('/')) chosen += '/'
      return wydotBsmSource(chosen, {...generator, ...generatorSettings(options)})
    },
  }
}

export default wydotBsmSource
