/**
 * The WYDOT generator's options, as the original generator had them: vehicles on the road, anomaly injection with
 * marked records a detector can be scored against, and bounds. Each test reads the generated records back and checks
 * the promise against what is in them, not against the generator's own bookkeeping.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {Readable} from 'node:stream'
import {describe, expect, it} from 'vitest'

import {RecordValidator, type SourceRecord} from '../../src/plugins/core/source-kit.js'
import {ANOMALY_KINDS, DEFAULT_VEHICLES, WYOMING} from '../../src/plugins/wydot-bsm/generate.js'
import {wydotBsmSource} from '../../src/plugins/wydot-bsm/index.js'
import {runCli} from '../helpers/cli.js'

interface Bsm {
  metadata: {logFileName: string; recordGeneratedAt: string; anomaly?: string | null}
  payload: {data: {coreData: {id: string; speed: number; position: {latitude: number; longitude: number}}}}
}

/** Records of a generation with these source options, in order. */
async function generated(options: Record<string, string>, from: string, minutes: number, rate = 36_000, seed = 5): Promise<Bsm[]> {
  const source = wydotBsmSource().configure!(options)
  const records: Bsm[] = []
  const start = new Date(from)
  for await (const object of source.generate!({range: {from: start, to: new Date(start.getTime() + minutes * 60_000)}, seed, rate})) {
    for await (const record of source.decode(Readable.from([Buffer.from(object.body)]), {key: object.key})) records.push(record as unknown as Bsm)
  }
  return records
}

/** The vehicle that really sent a record: its OBU log file names it (`bsmTx_<seconds>_<id>.csv`). */
const sender = (record: Bsm) => /_([0-9a-f]{8})\.csv$/.exec(record.metadata.logFileName)![1]
const metres = (a: Bsm, b: Bsm) => {
  const [p, q] = [a.payload.data.coreData.position, b.payload.data.coreData.position]
  const north = (p.latitude - q.latitude) * 111_320
  const east = (p.longitude - q.longitude) * 111_320 * Math.cos((p.latitude * Math.PI) / 180)
  return Math.hypot(north, east)
}

describe('wydot-bsm generator: vehicles', () => {
  it(`has ${DEFAULT_VEHICLES} vehicles on the road by default, and N with vehicles=N, reporting in turn`, async () => {
    for (const [options, count] of [
      [{}, DEFAULT_VEHICLES],
      [{vehicles: '7'}, 7],
      [{vehicles: '1'}, 1],
    ] as const) {
      const records = await generated(options, '2019-03-01T00:00:00Z', 2)
      expect(new Set(records.slice(0, count).map((record) => record.payload.data.coreData.id)).size).toBe(count)
      // Round robin: record count+1 is the first vehicle again (none has left the road in the first seconds).
      expect(records[count].payload.data.coreData.id).toBe(records[0].payload.data.coreData.id)
      expect(records.every((record) => !('anomaly' in record.metadata))).toBe(true)
    }
  })
})

describe('wydot-bsm generator: anomalies', {timeout: 120_000}, () => {
  it('marks every record, injects the fraction asked for (seeded) with all four kinds, and the records stay schema-valid', async () => {
    const records = await generated({anomalies: '0.3'}, '2019-03-01T00:00:00Z', 20)
    expect(records).toHaveLength(12_000)
    const kinds = new Map<string | null, number>()
    for (const record of records) {
      expect(record.metadata).toHaveProperty('anomaly')
      kinds.set(record.metadata.anomaly!, (kinds.get(record.metadata.anomaly!) ?? 0) + 1)
    }
    const anomalous = records.length - kinds.get(null)!
    // Binomial(12000, 0.3): the standard deviation is 0.4 %.
    expect(anomalous / records.length).toBeGreaterThan(0.28)
    expect(anomalous / records.length).toBeLessThan(0.32)
    expect([...kinds.keys()].filter((kind) => kind !== null).sort()).toEqual([...ANOMALY_KINDS].sort())
    for (const kind of ANOMALY_KINDS) expect(kinds.get(kind)! / anomalous, kind).toBeGreaterThan(0.2)
    const validator = await RecordValidator.create(wydotBsmSource().schema!)
    for (const record of records) validator.validate(record as unknown as SourceRecord)
    expect(validator.violations()).toEqual([])
    // Seeded: the same seed marks the same records; another does not.
    const again = await generated({anomalies: '0.3'}, '2019-03-01T00:00:00Z', 20)
    expect(again.map((record) => record.metadata.anomaly)).toEqual(records.map((record) => record.metadata.anomaly))
    const other = await generated({anomalies: '0.3'}, '2019-03-01T00:00:00Z', 20, 36_000, 6)
    expect(other.map((record) => record.metadata.anomaly)).not.toEqual(records.map((record) => record.metadata.anomaly))
    // anomalies=0 asks for none: no anomaly and no mark.
    expect((await generated({anomalies: '0'}, '2019-03-01T00:00:00Z', 1)).every((record) => !('anomaly' in record.metadata))).toBe(true)
  })

  it('each mark is true to the record: a detector looking at the data finds exactly what the mark says', async () => {
    const records = await generated({anomalies: '0.3', vehicles: '20'}, '2019-03-01T00:00:00Z', 10)
    const lastNormal = new Map<string, Bsm>()
    const payloads = new Set<string>()
    const ids = new Set(records.filter((record) => record.metadata.anomaly === null).map((record) => record.payload.data.coreData.id.toLowerCase()))
    const wrong: string[] = []
    for (const [i, record] of records.entries()) {
      const kind = record.metadata.anomaly
      const core = record.payload.data.coreData
      const who = sender(record)
      const payload = JSON.stringify(record.payload.data)
      const previous = lastNormal.get(who)
      // Since its last normal report a vehicle moved at most 38 m/s (plus a lane's width).
      const moved = previous ? metres(record, previous) : undefined
      const reach = previous ? (38 * (Date.parse(record.metadata.recordGeneratedAt) - Date.parse(previous.metadata.recordGeneratedAt))) / 1000 + 10 : 0
      const claim = (ok: boolean, what: string) => ok || wrong.push(`record ${i} (${kind}): ${what}`)
      if (kind === 'replay') claim(payloads.has(payload), 'its payload was not sent before')
      else claim(!payloads.has(payload), 'its payload was sent before')
      if (kind === 'speed-spike') claim(core.speed >= 60, `speed ${core.speed}`)
      else if (kind !== 'replay') claim(core.speed <= 38, `speed ${core.speed}`)
      if (kind === 'position-jump') claim(moved === undefined || moved > 2000 - reach, `moved only ${moved} m`)
      else if (kind !== 'replay') claim(moved === undefined || moved < reach, `moved ${moved} m, more than ${reach}`)
      if (kind === 'spoofed-id') claim(core.id.toLowerCase() !== who && ids.has(core.id.toLowerCase()), `id ${core.id} from ${who}`)
      else if (kind !== 'replay') claim(core.id.toLowerCase() === who, `id ${core.id} from ${who}`)
      if (kind === null) lastNormal.set(who, record)
      payloads.add(payload)
    }
    expect(wrong.slice(0, 5)).toEqual([])
  })
})

describe('wydot-bsm generator: bounds', {timeout: 120_000}, () => {
  it('keeps every position, anomalies included, inside a bbox, driving the part of I-80 within it', async () => {
    const [minLon, minLat, maxLon, maxLat] = [-106.5, 41, -105, 41.5] // around Laramie
    const records = await generated({bbox: `${minLon},${minLat},${maxLon},${maxLat}`, anomalies: '0.5'}, '2019-03-01T00:00:00Z', 10)
    expect(records.filter((record) => record.metadata.anomaly === 'position-jump').length).toBeGreaterThan(100)
    const outside = records.filter(
      ({
        payload: {
          data: {
            coreData: {position: p},
          },
        },
      }) => p.latitude < minLat || p.latitude > maxLat || p.longitude < minLon || p.longitude > maxLon,
    )
    expect(outside.map((record) => record.payload.data.coreData.position).slice(0, 3)).toEqual([])
    // They drive the road across the box, not a corner of it: positions span most of its width.
    const longitudes = records.map((record) => record.payload.data.coreData.position.longitude)
    expect(Math.max(...longitudes) - Math.min(...longitudes)).toBeGreaterThan(1)
    // Without a bbox, Wyoming.
    const wyoming = await generated({anomalies: '0.5'}, '2019-03-01T00:00:00Z', 2)
    expect(
      wyoming.every(
        ({
          payload: {
            data: {
              coreData: {position: p},
            },
          },
        }) => p.latitude >= WYOMING.minLatitude && p.latitude <= WYOMING.maxLatitude && p.longitude >= WYOMING.minLongitude && p.longitude <= WYOMING.maxLongitude,
      ),
    ).toBe(true)
  })

  it.each([
    ['vehicles=0', 'vehicles=0 is not a number of vehicles'],
    ['vehicles=2.5', 'vehicles=2.5 is not a number of vehicles'],
    ['anomalies=1.5', 'anomalies=1.5 is not a fraction'],
    ['anomalies=', 'anomalies= is not a fraction'],
    ['bbox=-106,41,-105', 'bbox=-106,41,-105 is not minLon,minLat,maxLon,maxLat'],
    ['bbox=-105,41,-106,42', 'bbox=-105,41,-106,42 is not minLon,minLat,maxLon,maxLat'],
    ['bbox=-110,43,-109,44', 'bbox=-110,43,-109,44 does not cross I-80'],
  ])('generate --source-option %s is a usage error naming the value, and writes nothing', async (option, message) => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bw-wydot-gen-'))
    try {
      const out = path.join(dir, 'out')
      const run = await runCli(['generate', out, '--source', 'wydot-bsm', '--source-option', option, '--from', '2019-03-01', '--to', '2019-03-01T00:01', '--json'])
      expect(run.code).toBe(2)
      const error = (JSON.parse(run.stdout) as {error: {code: string; message: string}}).error
      expect(error.code).toBe('BAD_SOURCE_OPTION')
      expect(error.message).toContain(message)
      await expect(fs.stat(out)).rejects.toThrow()
    } finally {
      await fs.rm(dir, {recursive: true, force: true})
    }
  })
})
