import {type GeneratedObject, type GenerateOptions, type RawLayout, seededRandom} from '../core/source-kit.js'
import {ANOMALY_KINDS} from './schema.js'

export {ANOMALY_KINDS} from './schema.js'

/** A box of latitudes and longitudes (degrees). */
export interface Bounds {
  minLatitude: number
  maxLatitude: number
  minLongitude: number
  maxLongitude: number
}

/** Wyoming's bounds: by default every generated position lies inside them. */
export const WYOMING: Readonly<Bounds> = {minLatitude: 41, maxLatitude: 45, minLongitude: -111.05, maxLongitude: -104.05}

/** Vehicles on the road at any time, by default (as the original generator had). */
export const DEFAULT_VEHICLES = 50

/**
 * Anomalies the generator injects (`anomalies=0.3`: about 30 % of records), each record marked with its kind in
 * `metadata.anomaly` (null for a normal record) so that a detector can be scored against it:
 * - `position-jump`: the reported position is 2–20 km off the vehicle's track (the next record is back on it);
 * - `speed-spike`: the reported speed is 60–160 m/s (the vehicle's real one stays 20–38 m/s);
 * - `replay`: the payload of one of the last minute's records of another report, sent again byte for byte
 *   (same `id`, `msgCnt`, `secMark`, position), with new metadata;
 * - `spoofed-id`: a vehicle reports under another vehicle's `id` (two tracks for one id).
 */
export type AnomalyKind = (typeof ANOMALY_KINDS)[number]

/** What the generator is asked for besides range, seed and rate (the source's `--source-option`s). */
export interface BsmGeneratorSettings {
  /** Vehicles on the road at once (default {@link DEFAULT_VEHICLES}). */
  vehicles?: number
  /** Fraction of records that are anomalies, 0–1 (default 0: none, and no `metadata.anomaly` field). */
  anomalies?: number
  /** Every position lies inside these bounds (default {@link WYOMING}); the part of I-80 inside is driven. */
  bounds?: Bounds
}

/** From this day on the ODE writes NDJSON files holding many records (schema v6); before, one record per file (v3). */
export const NDJSON_SINCE = Date.UTC(2018, 0, 18)

/** Default rate: BSM records per hour (ten a second; the vehicles report in turn, 50 of them each every 5 s). */
export const DEFAULT_RECORDS_PER_HOUR = 36_000

/** An NDJSON object is cut every five minutes of record time, or at this many records. */
const OBJECT_WINDOW_MS = 5 * 60_000
const MAX_RECORDS_PER_OBJECT = 10_000

/** I-80 across Wyoming, west to east: [latitude, longitude, elevation m] at towns and passes on the way. */
const I80: [number, number, number][] = [
  [41.2655, -111.03, 2070], // Utah line near Evanston
  [41.2683, -110.9632, 2060], // Evanston
  [41.316, -110.385, 2040], // Fort Bridger
  [41.543, -109.888, 1960], // Little America
  [41.529, -109.466, 1860], // Green River
  [41.595, -109.225, 1940], // Rock Springs
  [41.679, -108.786, 1980], // Point of Rocks
  [41.671, -107.978, 2070], // Wamsutter
  [41.728, -107.65, 2140], // Continental Divide (Creston Junction)
  [41.791, -107.238, 2070], // Rawlins
  [41.755, -106.847, 2000], // Walcott
  [41.596, -106.209, 2380], // Arlington / Elk Mountain
  [41.311, -105.591, 2180], // Laramie
  [41.245, -105.426, 2760], // Sherman Summit
  [41.123, -105.303, 2430], // Buford
  [41.14, -104.82, 1850], // Cheyenne
  [41.19, -104.358, 1650], // Burns
  [41.178, -104.07, 1540], // Pine Bluffs, near the Nebraska line
]

const M_PER_DEG_LAT = 111_320

interface Segment {
  start: number
  length: number
  lat: number
  lon: number
  elev: number
  dLat: number
  dLon: number
  dElev: number
  /** Heading eastbound, degrees clockwise from north. */
  heading: number
}

const SEGMENTS: Segment[] = []
let ROUTE_LENGTH = 0
for (let i = 0; i + 1 < I80.length; i++) {
  const [lat, lon, elev] = I80[i]
  const [lat2, lon2, elev2] = I80[i + 1]
  const north = (lat2 - lat) * M_PER_DEG_LAT
  const east = (lon2 - lon) * M_PER_DEG_LAT * Math.cos((((lat + lat2) / 2) * Math.PI) / 180)
  const length = Math.hypot(north, east)
  SEGMENTS.push({start: ROUTE_LENGTH, length, lat, lon, elev, dLat: lat2 - lat, dLon: lon2 - lon, dElev: elev2 - elev, heading: ((Math.atan2(east, north) * 180) / Math.PI + 360) % 360})
  ROUTE_LENGTH += length
}

interface Vehicle {
  id: string
  distance: number
  direction: 1 | -1
  speed: number
  segment: number
  msgCnt: number
  lastTime: number
  width: number
  length: number
  height: number
  lane: number
  /** The path history is redrawn every few reports; it changes only with heading and speed. */
  crumbs: string
  crumbsAge: number
  /** Parts of a record that never change for a vehicle, formatted once. */
  sizeJson: string
  supplementalJson: string
}

const hex8 = (random: () => number) =>
  Math.floor(random() * 4_294_967_296)
    .toString(16)
    .toUpperCase()
    .padStart(8, '0')
const uuid = (random: () => number) => {
  const h = hex8(random) + hex8(random) + hex8(random) + hex8(random)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`.toLowerCase()
}

/** The stretch of I-80 that is driven: from `start` to `end` metres along the route (west to east). */
interface Stretch {
  start: number
  end: number
  bounds: Bounds
}

function newVehicle(random: () => number, time: number, anywhere: boolean, stretch: Stretch): Vehicle {
  const direction = random() < 0.5 ? 1 : -1
  const truck = random() < 0.45 // I-80 carries a lot of freight
  const length = stretch.end - stretch.start
  const distance = stretch.start + (anywhere ? random() * length : direction === 1 ? 0 : length)
  const vehicle: Vehicle = {
    id: hex8(random),
    distance,
    direction,
    speed: truck ? 26 + random() * 4 : 29 + random() * 6,
    segment: segmentAt(distance, 0),
    msgCnt: Math.floor(random() * 128),
    lastTime: time,
    width: truck ? 259 : 180 + Math.floor(random() * 30),
    length: truck ? 2000 + Math.floor(random() * 300) : 420 + Math.floor(random() * 150),
    height: truck ? 4.1 : 1.4 + Math.round(random() * 5) / 10,
    lane: direction * (1.8 + random() * 0.8),
    crumbs: '',
    crumbsAge: 0,
    sizeJson: '',
    supplementalJson: '',
  }
  vehicle.sizeJson = `"size":{"width":${vehicle.width},"length":${vehicle.length}}}`
  vehicle.supplementalJson = `{"id":"SupplementalVehicleExtensions","value":{"classDetails":{"fuelType":"unknownFuel","hpmsType":"none","keyType":0,"regional":[],"role":"basicVehicle"},"vehicleData":{"height":${vehicle.height.toFixed(2)}},"weatherProbe":{},"regional":[]}}]`
  return vehicle
}

/** The segment holding `distance`, searching from a hint (vehicles move a little between records). */
function segmentAt(distance: number, hint: number): number {
  let i = Math.min(Math.max(hint, 0), SEGMENTS.length - 1)
  while (i > 0 && distance < SEGMENTS[i].start) i--
  while (i < SEGMENTS.length - 1 && distance >= SEGMENTS[i].start + SEGMENTS[i].length) i++
  return i
}

const clamp = (value: number, min: number, max: number) => (value < min ? min : value > max ? max : value)

/**
 * ISO 8601 of epoch ms, with the ODE's `[UTC]` suffix for schema v3. Times come in order, so the
 * `YYYY-MM-DDTHH:MM:SS.` part is formatted once a second; one formatter per field keeps each cache warm.
 */
function isoFormatter(): (ms: number, zoned: boolean) => string {
  let cachedSecond = Number.NaN
  let prefix = ''
  return (ms, zoned) => {
    const second = Math.floor(ms / 1000)
    if (second !== cachedSecond) {
      cachedSecond = second
      prefix = new Date(second * 1000).toISOString().slice(0, 20)
    }
    const millis = ms - second * 1000
    return `${prefix}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z${zoned ? '[UTC]' : ''}`
  }
}
const generatedAt = isoFormatter()
const receivedAt = isoFormatter()

interface Fix {
  lat: number
  headingDegrees: number
  latitude: string
  longitude: string
  elevation: string
  speed: string
  heading: string
}

/** Latitude and longitude at `distance` metres along I-80's centre line. */
function pointAt(distance: number): [number, number] {
  const segment = SEGMENTS[segmentAt(distance, 0)]
  const along = clamp((distance - segment.start) / segment.length, 0, 1)
  return [segment.lat + segment.dLat * along, segment.lon + segment.dLon * along]
}

const inside = (bounds: Bounds, [lat, lon]: [number, number]) => lat >= bounds.minLatitude && lat <= bounds.maxLatitude && lon >= bounds.minLongitude && lon <= bounds.maxLongitude

/**
 * The longest stretch of I-80 inside `bounds` (found every 100 m, the ends pulled in by 100 m so that lane offsets
 * stay inside too), or undefined when the road does not cross them.
 */
export function stretchInside(bounds: Bounds): Stretch | undefined {
  const STEP = 100
  let best: Stretch | undefined
  let runStart = -1
  for (let d = 0; d <= ROUTE_LENGTH + STEP; d += STEP) {
    const within = d <= ROUTE_LENGTH && inside(bounds, pointAt(d))
    if (within && runStart < 0) runStart = d
    if (!within && runStart >= 0) {
      const run = {start: runStart + STEP, end: d - 2 * STEP, bounds}
      if (run.end > run.start && (!best || run.end - run.start > best.end - best.start)) best = run
      runStart = -1
    }
  }
  return best
}

function fixOf(vehicle: Vehicle, bounds: Bounds): Fix {
  const segment = SEGMENTS[vehicle.segment]
  const along = clamp((vehicle.distance - segment.start) / segment.length, 0, 1)
  const heading = vehicle.direction === 1 ? segment.heading : (segment.heading + 180) % 360
  // Offset to the right of travel (driving on the right): eastbound lanes south of the centre line, and so on.
  const right = ((heading + 90) * Math.PI) / 180
  const lat = segment.lat + segment.dLat * along + (Math.cos(right) * Math.abs(vehicle.lane)) / M_PER_DEG_LAT
  const lon = segment.lon + segment.dLon * along + (Math.sin(right) * Math.abs(vehicle.lane)) / (M_PER_DEG_LAT * Math.cos((lat * Math.PI) / 180))
  return {
    lat,
    headingDegrees: heading,
    latitude: clamp(lat, bounds.minLatitude, bounds.maxLatitude).toFixed(7),
    longitude: clamp(lon, bounds.minLongitude, bounds.maxLongitude).toFixed(7),
    elevation: (segment.elev + segment.dElev * along).toFixed(1),
    speed: vehicle.speed.toFixed(2),
    heading: heading.toFixed(4),
  }
}

function crumbs(vehicle: Vehicle, fix: Fix, random: () => number): string {
  if (vehicle.crumbsAge-- > 0) return vehicle.crumbs
  vehicle.crumbsAge = 10
  const rad = (fix.headingDegrees * Math.PI) / 180
  const perSecondLat = (-Math.cos(rad) * vehicle.speed) / M_PER_DEG_LAT
  const perSecondLon = (-Math.sin(rad) * vehicle.speed) / (M_PER_DEG_LAT * Math.cos((fix.lat * Math.PI) / 180))
  const out: string[] = []
  for (const seconds of [1, 2.79, 4.19, 5.7, 9.69, 14.2]) {
    const jitter = (random() - 0.5) * 0.00001
    out.push(
      `{"elevationOffset":${((random() - 0.5) * 0.4 * seconds).toFixed(1)},"latOffset":${(perSecondLat * seconds + jitter).toFixed(7)},"lonOffset":${(perSecondLon * seconds + jitter).toFixed(7)},"timeOffset":${seconds}}`,
    )
  }
  vehicle.crumbs = out.join(',')
  return vehicle.crumbs
}

/** Formatted values in a range (two decimals), picked by index: the hot path then formats no number itself. */
const hundredths = (from: number, to: number) => Array.from({length: Math.round((to - from) * 100) + 1}, (_, i) => (from + i / 100).toFixed(2))
const ACCEL_LONG = hundredths(-0.6, 0.6)
const ACCEL_YAW = hundredths(-1.5, 1.5)
const SEMI_MAJOR = hundredths(1.5, 3.5)
const SEMI_MINOR = hundredths(2, 4)
const pick = (values: string[], random: () => number) => values[Math.floor(random() * values.length)]

function coreData(vehicle: Vehicle, id: string, time: number, fix: Fix, random: () => number): string {
  const accelLong = pick(ACCEL_LONG, random)
  const accelYaw = pick(ACCEL_YAW, random)
  return (
    `{"msgCnt":${vehicle.msgCnt},"id":"${id}","secMark":${time % 60_000},` +
    `"position":{"latitude":${fix.latitude},"longitude":${fix.longitude},"elevation":${fix.elevation}},` +
    `"accelSet":{"accelLat":0,"accelLong":${accelLong},"accelVert":0,"accelYaw":${accelYaw}},` +
    `"accuracy":{"semiMajor":${pick(SEMI_MAJOR, random)},"semiMinor":${pick(SEMI_MINOR, random)}},` +
    `"transmission":"FORWARDGEARS","speed":${fix.speed},"heading":${fix.heading},` +
    `"brakes":{"wheelBrakes":{"leftFront":false,"rightFront":false,"unavailable":true,"leftRear":false,"rightRear":false},"traction":"unavailable","abs":"unavailable","scs":"unavailable","brakeBoost":"unavailable","auxBrakes":"unavailable"},` +
    vehicle.sizeJson
  )
}

function partII(vehicle: Vehicle, fix: Fix, random: () => number): string {
  return (
    `[{"id":"VehicleSafetyExtensions","value":{"pathHistory":{"crumbData":[${crumbs(vehicle, fix, random)}]},"pathPrediction":{"confidence":${Math.floor(random() * 20) * 5},"radiusOfCurve":${Math.floor(random() * 32_767) / 10}}}},` +
    vehicle.supplementalJson
  )
}

interface Serial {
  streamId: string
  bundleSize: number
  bundleId: number
  recordId: number
}

/** What one record is: normal, or an anomaly of a kind (see {@link ANOMALY_KINDS}), and whether it is marked. */
interface Report {
  anomaly: AnomalyKind | null
  /** Write `metadata.anomaly` (only when anomalies were asked for). */
  mark: boolean
  bounds: Bounds
  /** `spoofed-id`: the id reported instead of the vehicle's own. */
  id?: string
  /** `replay`: the payload data sent again. */
  replayed?: string
}

const KM_PER_DEG_LAT = M_PER_DEG_LAT / 1000

/** `position-jump`: 2–20 km off the track in a random direction, the other way when that leaves the bounds. */
function jumped(fix: Fix, bounds: Bounds, random: () => number): Fix {
  const km = 2 + random() * 18
  const angle = random() * 2 * Math.PI
  const cosLat = Math.cos((fix.lat * Math.PI) / 180)
  const at = (sign: number): [number, number] => [fix.lat + (sign * km * Math.cos(angle)) / KM_PER_DEG_LAT, Number(fix.longitude) + (sign * km * Math.sin(angle)) / (KM_PER_DEG_LAT * cosLat)]
  const forward = at(1)
  const [lat, lon] = inside(bounds, forward) ? forward : at(-1)
  return {...fix, latitude: clamp(lat, bounds.minLatitude, bounds.maxLatitude).toFixed(7), longitude: clamp(lon, bounds.minLongitude, bounds.maxLongitude).toFixed(7)}
}

/** One record in the v6 shape (plain ISO times, receivedMessageDetails) or the v3 shape (`[UTC]` times). */
function record(vehicle: Vehicle, time: number, serial: Serial, random: () => number, report: Report): {line: string; data: string} {
  let fix = fixOf(vehicle, report.bounds)
  if (report.anomaly === 'position-jump') fix = jumped(fix, report.bounds, random)
  if (report.anomaly === 'speed-spike') fix = {...fix, speed: (60 + random() * 100).toFixed(2)}
  const v6 = time >= NDJSON_SINCE
  const received = time + 200 + Math.floor(random() * 2_000)
  const serialId = `{"streamId":"${serial.streamId}","bundleSize":${serial.bundleSize},"bundleId":${serial.bundleId},"recordId":${serial.recordId},"serialNumber":${serial.recordId}}`
  const logFile = `bsmTx_${Math.floor(time / 1000)}_${vehicle.id.toLowerCase()}.csv`
  const metadata = v6
    ? `{"bsmSource":"EV","logFileName":"${logFile}","recordType":"bsmTx","securityResultCode":"success","receivedMessageDetails":{"locationData":{"latitude":"${fix.latitude}","longitude":"${fix.longitude}","elevation":"${fix.elevation}","speed":"${fix.speed}","heading":"${fix.heading}"},"rxSource":"NA"},"payloadType":"us.dot.its.jpo.ode.model.OdeBsmPayload","serialId":${serialId},"odeReceivedAt":"${receivedAt(received, false)}","schemaVersion":6,"recordGeneratedAt":"${generatedAt(time, false)}","recordGeneratedBy":"OBU","sanitized":false}`
    : `{"logFileName":"${logFile}","recordType":"bsmTx","payloadType":"us.dot.its.jpo.ode.model.OdeBsmPayload","serialId":${serialId},"odeReceivedAt":"${receivedAt(received, true)}","schemaVersion":3,"recordGeneratedAt":"${generatedAt(time, true)}","recordGeneratedBy":"OBU","validSignature":true,"sanitized":true}`
  // The mark goes in the ODE's metadata, beside what the receiver knows, never into the J2735 payload a detector reads.
  const marked = report.mark ? `${metadata.slice(0, -1)},"anomaly":${report.anomaly === null ? 'null' : `"${report.anomaly}"`}}` : metadata
  const data = report.replayed ?? `{"coreData":${coreData(vehicle, report.id ?? vehicle.id, time, fix, random)},"partII":${partII(vehicle, fix, random)}}`
  return {line: `{"metadata":${marked},"payload":{"dataType":"us.dot.its.jpo.ode.plugin.j2735.J2735Bsm","data":${data}}}`, data}
}

/** Payloads of the latest normal records, for `replay` anomalies. */
const REPLAY_WINDOW = 256

/**
 * NDJSON lines written straight into bytes: records are ASCII, so a latin1 write is exact and skips both joining
 * thousands of strings and UTF-8 encoding them again on the way to storage.
 */
class ObjectBuffer {
  private buffer = Buffer.allocUnsafe(1 << 20)
  private position = 0
  lines = 0

  append(line: string): void {
    if (this.position + line.length + 1 > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.position + line.length + 1))
      this.buffer.copy(grown, 0, 0, this.position)
      this.buffer = grown
    }
    this.position += this.buffer.write(line, this.position, 'latin1')
    this.buffer[this.position++] = 0x0a
    this.lines++
  }

  /** The lines so far as their own bytes; the buffer is reused for the next object. */
  take(): Buffer {
    const bytes = Buffer.from(this.buffer.subarray(0, this.position))
    this.position = 0
    this.lines = 0
    return bytes
  }
}

/**
 * Synthetic WYDOT BSM data: vehicles driving I-80 across Wyoming in both directions at highway speeds, each
 * reporting in turn, written in the sandbox's key layout. Before 2018-01-18 every record is its own object (schema
 * v3, `[UTC]` times); from then on records go into NDJSON objects of up to five minutes (schema v6). The same
 * seed and range give the same bytes. `rate` is BSM records per hour (default {@link DEFAULT_RECORDS_PER_HOUR}).
 */
export async function* generateBsm(options: GenerateOptions, layout: RawLayout, settings: BsmGeneratorSettings = {}): AsyncIterable<GeneratedObject & {records: number}> {
  const random = seededRandom(options.seed)
  const rate = options.rate ?? DEFAULT_RECORDS_PER_HOUR
  if (!(rate > 0)) throw new Error(`rate must be a positive number of records per hour, not ${rate}`)
  const count = settings.vehicles ?? DEFAULT_VEHICLES
  const anomalies = settings.anomalies ?? 0
  const bounds = settings.bounds ?? WYOMING
  const stretch = stretchInside(bounds)
  if (!stretch) throw new Error(`the bounds ${describeBounds(bounds)} do not cross I-80 (41.12–41.79°N, 111.03–104.07°W), where the vehicles drive`)
  const replayable: string[] = []
  const interval = 3_600_000 / rate
  const from = options.range.from.getTime()
  const to = options.range.to.getTime()
  const keyFor = layout.keyFor!
  const vehicles = Array.from({length: count}, () => newVehicle(random, from, true, stretch))
  const body = new ObjectBuffer()
  let objectStart = 0
  let window = -1
  let bundleId = 0
  let serial: Serial = {streamId: '', bundleSize: 0, bundleId: 0, recordId: 0}
  let lastKeyTime = -1
  let sequence = 0
  const key = (time: number) => {
    sequence = time === lastKeyTime ? sequence + 1 : 0
    lastKeyTime = time
    return keyFor(new Date(time), sequence)
  }
  const flush = (): GeneratedObject & {records: number} => {
    const records = body.lines
    return {key: key(objectStart), body: body.take(), records}
  }
  for (let i = 0; ; i++) {
    const time = Math.floor(from + i * interval)
    if (time >= to) break
    const index = i % count
    let vehicle = vehicles[index]
    vehicle.distance += (vehicle.direction * vehicle.speed * (time - vehicle.lastTime)) / 1000
    vehicle.lastTime = time
    if (vehicle.distance < stretch.start || vehicle.distance > stretch.end) {
      vehicle = vehicles[index] = newVehicle(random, time, false, stretch)
    }
    vehicle.segment = segmentAt(vehicle.distance, vehicle.segment)
    vehicle.speed = clamp(vehicle.speed + (random() - 0.5) * 0.3, 20, 38)
    vehicle.msgCnt = (vehicle.msgCnt + 1) % 128
    const report: Report = {anomaly: null, mark: anomalies > 0, bounds}
    if (anomalies > 0 && random() < anomalies) {
      report.anomaly = ANOMALY_KINDS[Math.floor(random() * ANOMALY_KINDS.length)]
      if (report.anomaly === 'replay' && replayable.length === 0) report.anomaly = 'position-jump'
      if (report.anomaly === 'replay') report.replayed = replayable[Math.floor(random() * replayable.length)]
      if (report.anomaly === 'spoofed-id') {
        const other = vehicles[(index + 1 + Math.floor(random() * (count - 1))) % count]
        report.id = other === vehicle ? hex8(random) : other.id
      }
    }
    const write = (serial: Serial): string => {
      const made = record(vehicle, time, serial, random, report)
      if (anomalies > 0 && report.anomaly === null) {
        if (replayable.length === REPLAY_WINDOW) replayable.shift()
        replayable.push(made.data)
      }
      return made.line
    }
    if (time < NDJSON_SINCE) {
      const line = write({streamId: uuid(random), bundleSize: 1, bundleId: bundleId++ % 65_536, recordId: 0})
      // Single-record files of the early years: one compact line without a trailing newline, as the real ones.
      yield {key: key(time), body: line, records: 1}
      continue
    }
    const thisWindow = Math.floor(time / OBJECT_WINDOW_MS)
    if (body.lines > 0 && (thisWindow !== window || body.lines >= MAX_RECORDS_PER_OBJECT)) yield flush()
    if (body.lines === 0) {
      window = thisWindow
      objectStart = time
      serial = {streamId: uuid(random), bundleSize: MAX_RECORDS_PER_OBJECT, bundleId: bundleId++ % 65_536, recordId: 0}
    }
    body.append(write({...serial, recordId: body.lines}))
  }
  if (body.lines > 0) yield flush()
}

function describeBounds(bounds: Bounds): string {
  return `${bounds.minLongitude},${bounds.minLatitude},${bounds.maxLongitude},${bounds.maxLatitude}`
}

/**
 * Reads the generator's source options: `vehicles` (a whole number ≥ 1), `anomalies` (a fraction 0–1) and `bbox`
 * (`minLon,minLat,maxLon,maxLat` in degrees, GeoJSON's order). Throws an Error naming the option and value.
 */
export function generatorSettings(options: Record<string, string>): BsmGeneratorSettings {
  const settings: BsmGeneratorSettings = {}
  if (options.vehicles !== undefined) {
    const vehicles = Number(options.vehicles)
    if (!/^\d+$/.test(options.vehicles.trim()) || vehicles < 1 || vehicles > 100_000) throw new Error(`vehicles=${options.vehicles} is not a number of vehicles (1 to 100000)`)
    settings.vehicles = vehicles
  }
  if (options.anomalies !== undefined) {
    const anomalies = Number(options.anomalies)
    if (options.anomalies.trim() === '' || !(anomalies >= 0 && anomalies <= 1)) throw new Error(`anomalies=${options.anomalies} is not a fraction of records from 0 to 1 (0.3: about 30 %)`)
    settings.anomalies = anomalies
  }
  if (options.bbox !== undefined) {
    const parts = options.bbox.split(',').map((part) => (part.trim() === '' ? Number.NaN : Number(part)))
    const [minLongitude, minLatitude, maxLongitude, maxLatitude] = parts
    if (
      parts.length !== 4 ||
      parts.some((part) => !Number.isFinite(part)) ||
      !(minLongitude < maxLongitude && minLatitude < maxLatitude) ||
      minLatitude < -90 ||
      maxLatitude > 90 ||
      minLongitude < -180 ||
      maxLongitude > 180
    ) {
      throw new Error(`bbox=${options.bbox} is not minLon,minLat,maxLon,maxLat in degrees (e.g. bbox=-106.5,41,-105,41.5 around Laramie)`)
    }
    const bounds = {minLatitude, maxLatitude, minLongitude, maxLongitude}
    if (!stretchInside(bounds)) throw new Error(`bbox=${options.bbox} does not cross I-80 (41.12–41.79°N, 111.03–104.07°W), where the vehicles drive`)
    settings.bounds = bounds
  }
  return settings
}
