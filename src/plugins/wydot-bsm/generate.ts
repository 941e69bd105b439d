import {type GeneratedObject, type GenerateOptions, type RawLayout, seededRandom} from '../core/source-kit.js'

/** Wyoming's bounds: every generated position lies inside them. */
export const WYOMING = {minLatitude: 41, maxLatitude: 45, minLongitude: -111.05, maxLongitude: -104.05} as const

/** From this day on the ODE writes NDJSON files holding many records (schema v6); before, one record per file (v3). */
export const NDJSON_SINCE = Date.UTC(2018, 0, 18)

/** Default rate: BSM records per hour (about ten vehicles reporting once a second). */
export const DEFAULT_RECORDS_PER_HOUR = 36_000

/** An NDJSON object is cut every five minutes of record time, or at this many records. */
const OBJECT_WINDOW_MS = 5 * 60_000
const MAX_RECORDS_PER_OBJECT = 10_000
const VEHICLES = 24

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

const hex8 = (random: () => number) => Math.floor(random() * 4_294_967_296).toString(16).toUpperCase().padStart(8, '0')
const uuid = (random: () => number) => {
  const h = hex8(random) + hex8(random) + hex8(random) + hex8(random)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`.toLowerCase()
}

function newVehicle(random: () => number, time: number, anywhere: boolean): Vehicle {
  const direction = random() < 0.5 ? 1 : -1
  const truck = random() < 0.45 // I-80 carries a lot of freight
  const distance = anywhere ? random() * ROUTE_LENGTH : direction === 1 ? 0 : ROUTE_LENGTH
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

function fixOf(vehicle: Vehicle): Fix {
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
    latitude: clamp(lat, WYOMING.minLatitude, WYOMING.maxLatitude).toFixed(7),
    longitude: clamp(lon, WYOMING.minLongitude, WYOMING.maxLongitude).toFixed(7),
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

function coreData(vehicle: Vehicle, time: number, fix: Fix, random: () => number): string {
  const accelLong = pick(ACCEL_LONG, random)
  const accelYaw = pick(ACCEL_YAW, random)
  return (
    `{"msgCnt":${vehicle.msgCnt},"id":"${vehicle.id}","secMark":${time % 60_000},` +
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

/** One record in the v6 shape (plain ISO times, receivedMessageDetails) or the v3 shape (`[UTC]` times). */
function record(vehicle: Vehicle, time: number, serial: Serial, random: () => number): string {
  const fix = fixOf(vehicle)
  const v6 = time >= NDJSON_SINCE
  const received = time + 200 + Math.floor(random() * 2_000)
  const serialId = `{"streamId":"${serial.streamId}","bundleSize":${serial.bundleSize},"bundleId":${serial.bundleId},"recordId":${serial.recordId},"serialNumber":${serial.recordId}}`
  const logFile = `bsmTx_${Math.floor(time / 1000)}_${vehicle.id.toLowerCase()}.csv`
  const metadata = v6
    ? `{"bsmSource":"EV","logFileName":"${logFile}","recordType":"bsmTx","securityResultCode":"success","receivedMessageDetails":{"locationData":{"latitude":"${fix.latitude}","longitude":"${fix.longitude}","elevation":"${fix.elevation}","speed":"${fix.speed}","heading":"${fix.heading}"},"rxSource":"NA"},"payloadType":"us.dot.its.jpo.ode.model.OdeBsmPayload","serialId":${serialId},"odeReceivedAt":"${receivedAt(received, false)}","schemaVersion":6,"recordGeneratedAt":"${generatedAt(time, false)}","recordGeneratedBy":"OBU","sanitized":false}`
    : `{"logFileName":"${logFile}","recordType":"bsmTx","payloadType":"us.dot.its.jpo.ode.model.OdeBsmPayload","serialId":${serialId},"odeReceivedAt":"${receivedAt(received, true)}","schemaVersion":3,"recordGeneratedAt":"${generatedAt(time, true)}","recordGeneratedBy":"OBU","validSignature":true,"sanitized":true}`
  return `{"metadata":${metadata},"payload":{"dataType":"us.dot.its.jpo.ode.plugin.j2735.J2735Bsm","data":{"coreData":${coreData(vehicle, time, fix, random)},"partII":${partII(vehicle, fix, random)}}}}`
}

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
export async function* generateBsm(options: GenerateOptions, layout: RawLayout): AsyncIterable<GeneratedObject & {records: number}> {
  const random = seededRandom(options.seed)
  const rate = options.rate ?? DEFAULT_RECORDS_PER_HOUR
  if (!(rate > 0)) throw new Error(`rate must be a positive number of records per hour, not ${rate}`)
  const interval = 3_600_000 / rate
  const from = options.range.from.getTime()
  const to = options.range.to.getTime()
  const keyFor = layout.keyFor!
  const vehicles = Array.from({length: VEHICLES}, () => newVehicle(random, from, true))
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
    const index = i % VEHICLES
    let vehicle = vehicles[index]
    vehicle.distance += (vehicle.direction * vehicle.speed * (time - vehicle.lastTime)) / 1000
    vehicle.lastTime = time
    if (vehicle.distance < 0 || vehicle.distance > ROUTE_LENGTH) {
      vehicle = vehicles[index] = newVehicle(random, time, false)
    }
    vehicle.segment = segmentAt(vehicle.distance, vehicle.segment)
    vehicle.speed = clamp(vehicle.speed + (random() - 0.5) * 0.3, 20, 38)
    vehicle.msgCnt = (vehicle.msgCnt + 1) % 128
    if (time < NDJSON_SINCE) {
      const line = record(vehicle, time, {streamId: uuid(random), bundleSize: 1, bundleId: bundleId++ % 65_536, recordId: 0}, random)
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
    body.append(record(vehicle, time, {...serial, recordId: body.lines}, random))
  }
  if (body.lines > 0) yield flush()
}
