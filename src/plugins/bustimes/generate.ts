import {type GeneratedObject, type GenerateOptions, seededRandom} from '../core/source-kit.js'
import {bustimesLayout, REPR_CUTOFF_TIME} from './layout.js'
import {formatFloat} from './python-literal/index.js'

/**
 * A synthetic TriMet-like fleet (invented for bucketwright, not real data): routes as polylines around Portland,
 * vehicles moving back and forth along them once per `period` minutes.
 */
interface Route {
  number: number
  type: 'bus' | 'rail'
  garage: string
  sign: [string, string]
  signLong: [string, string]
  path: [number, number][]
  vehicles: number
  period: number
}

const ROUTES: Route[] = [
  {
    number: 100,
    type: 'rail',
    garage: 'RUBY',
    sign: ['Blue to Hillsboro', 'Blue to Gresham'],
    signLong: ['MAX  Blue Line to Hillsboro', 'MAX  Blue Line to Gresham'],
    path: [
      [45.5295, -122.9876],
      [45.5101, -122.7825],
      [45.5186, -122.6781],
      [45.5316, -122.5652],
      [45.5082, -122.4281],
    ],
    vehicles: 22,
    period: 200,
  },
  {
    number: 90,
    type: 'rail',
    garage: 'ELMO',
    sign: ['Red to Beaverton', 'Red to Airport'],
    signLong: ['MAX  Red Line to Beaverton', 'MAX  Red Line to Airport'],
    path: [
      [45.4916, -122.8011],
      [45.5186, -122.6781],
      [45.5588, -122.5874],
      [45.5887, -122.5929],
    ],
    vehicles: 12,
    period: 130,
  },
  {
    number: 200,
    type: 'rail',
    garage: 'RUBY',
    sign: ['Green to Clackamas', 'Green to City Ctr'],
    signLong: ['MAX  Green Line to Clackamas Town Center', 'MAX  Green Line to City Center/PSU'],
    path: [
      [45.5112, -122.6834],
      [45.5299, -122.6628],
      [45.5359, -122.5645],
      [45.4352, -122.5679],
    ],
    vehicles: 10,
    period: 120,
  },
  {
    number: 4,
    type: 'bus',
    garage: 'CENTER',
    sign: ['4 Division to Gresham', '4 Fessenden to St Johns'],
    signLong: ['4  Division to Gresham TC', '4  Fessenden to St Johns'],
    path: [
      [45.5902, -122.7543],
      [45.5623, -122.6775],
      [45.5191, -122.6756],
      [45.5048, -122.6201],
      [45.5041, -122.4322],
    ],
    vehicles: 30,
    period: 180,
  },
  {
    number: 6,
    type: 'bus',
    garage: 'CENTER',
    sign: ['6 MLK Jr to Jantzen Beach', '6 MLK Jr to City Ctr'],
    signLong: ['6  Martin Luther King Jr Blvd to Jantzen Beach', '6  Martin Luther King Jr Blvd to City Center'],
    path: [
      [45.6149, -122.6851],
      [45.5697, -122.6617],
      [45.5212, -122.6787],
    ],
    vehicles: 18,
    period: 110,
  },
  {
    number: 9,
    type: 'bus',
    garage: 'POWELL',
    sign: ['9 Powell to Gresham', '9 Broadway to Rose Qtr'],
    signLong: ['9  Powell Blvd to Gresham TC', '9  Broadway to Rose Quarter TC'],
    path: [
      [45.5313, -122.6668],
      [45.4972, -122.6531],
      [45.4976, -122.5636],
      [45.4935, -122.4315],
    ],
    vehicles: 28,
    period: 150,
  },
  {
    number: 12,
    type: 'bus',
    garage: 'MERLO',
    sign: ['12 Barbur to Tigard', '12 Sandy to Parkrose'],
    signLong: ['12  Barbur Blvd to Tigard TC', '12  Sandy Blvd to Parkrose TC'],
    path: [
      [45.4305, -122.7713],
      [45.4711, -122.6942],
      [45.5165, -122.6766],
      [45.5474, -122.6108],
      [45.5629, -122.5619],
    ],
    vehicles: 26,
    period: 170,
  },
  {
    number: 14,
    type: 'bus',
    garage: 'POWELL',
    sign: ['14 Hawthorne to Foster', '14 Hawthorne to City Ctr'],
    signLong: ['14  Hawthorne to Foster & 94th', '14  Hawthorne to City Center'],
    path: [
      [45.5153, -122.679],
      [45.5121, -122.6251],
      [45.4827, -122.5669],
    ],
    vehicles: 20,
    period: 100,
  },
  {
    number: 15,
    type: 'bus',
    garage: 'CENTER',
    sign: ['15 Belmont to Gateway', '15 NW 23rd to Montgomery Park'],
    signLong: ['15  Belmont/NW 23rd to Gateway TC', '15  Belmont/NW 23rd to Montgomery Park'],
    path: [
      [45.5361, -122.7047],
      [45.5274, -122.6986],
      [45.5164, -122.6582],
      [45.516, -122.5653],
      [45.5316, -122.5633],
    ],
    vehicles: 26,
    period: 160,
  },
  {
    number: 20,
    type: 'bus',
    garage: 'MERLO',
    sign: ['20 Burnside to Gresham', '20 Burnside to Beaverton'],
    signLong: ['20  Burnside/Stark to Gresham TC', '20  Burnside/Stark to Beaverton TC'],
    path: [
      [45.4916, -122.8011],
      [45.5226, -122.702],
      [45.5229, -122.653],
      [45.5196, -122.5318],
      [45.5041, -122.4322],
    ],
    vehicles: 30,
    period: 210,
  },
  {
    number: 33,
    type: 'bus',
    garage: 'POWELL',
    sign: ['33 McLoughlin to Oregon City', '33 McLoughlin to City Ctr'],
    signLong: ['33  McLoughlin to Oregon City TC', '33  McLoughlin to City Center'],
    path: [
      [45.5171, -122.6786],
      [45.4709, -122.6472],
      [45.4435, -122.6403],
      [45.3567, -122.6057],
    ],
    vehicles: 16,
    period: 150,
  },
  {
    number: 57,
    type: 'bus',
    garage: 'MERLO',
    sign: ['57 TV Hwy to Forest Grove', '57 TV Hwy to Beaverton'],
    signLong: ['57  TV Hwy/Forest Grove to Forest Grove', '57  TV Hwy/Forest Grove to Beaverton TC'],
    path: [
      [45.4916, -122.8011],
      [45.4952, -122.8658],
      [45.5201, -122.9885],
      [45.5196, -123.1107],
    ],
    vehicles: 18,
    period: 170,
  },
  {
    number: 72,
    type: 'bus',
    garage: 'CENTER',
    sign: ['72 82nd Ave to Clackamas', '72 Killingsworth to Swan Island'],
    signLong: ['72  Killingsworth/82nd Ave to Clackamas TC', '72  Killingsworth/82nd Ave to Swan Island'],
    path: [
      [45.5628, -122.709],
      [45.5627, -122.641],
      [45.5626, -122.5785],
      [45.4961, -122.5785],
      [45.4352, -122.5679],
    ],
    vehicles: 32,
    period: 220,
  },
  {
    number: 75,
    type: 'bus',
    garage: 'CENTER',
    sign: ['75 Cesar Chavez to Milwaukie', '75 Cesar Chavez to St Johns'],
    signLong: ['75  Cesar Chavez/Lombard to Milwaukie', '75  Cesar Chavez/Lombard to St Johns'],
    path: [
      [45.5902, -122.7543],
      [45.5775, -122.683],
      [45.57, -122.6237],
      [45.5123, -122.6235],
      [45.4434, -122.6392],
    ],
    vehicles: 26,
    period: 200,
  },
]

/** One bus of a route. */
interface Vehicle {
  id: number
  route: Route
  phase: number
  block: number
  trip: number
}

function fleet(seed: number): Vehicle[] {
  const random = seededRandom(seed ^ 0x9e3779b9)
  const vehicles: Vehicle[] = []
  let busId = 2901
  let railId = 101
  for (const route of ROUTES) {
    for (let i = 0; i < route.vehicles; i++) {
      const id = route.type === 'rail' ? railId++ : (busId += 1 + Math.floor(random() * 3))
      vehicles.push({id, route, phase: random(), block: route.number * 100 + i, trip: 7_700_000 + Math.floor(random() * 900_000)})
    }
  }
  return vehicles
}

/** Position along a route's polyline at fraction `f` (0..1) and the bearing of that segment. */
function positionOn(path: [number, number][], f: number): {lat: number; lon: number; bearing: number} {
  const segments = path.length - 1
  const x = Math.min(f * segments, segments - 1e-9)
  const i = Math.floor(x)
  const u = x - i
  const [lat0, lon0] = path[i]
  const [lat1, lon1] = path[i + 1]
  const bearing = Math.round(((Math.atan2(lon1 - lon0, lat1 - lat0) * 180) / Math.PI + 360) % 360)
  return {lat: lat0 + (lat1 - lat0) * u, lon: lon0 + (lon1 - lon0) * u, bearing}
}

const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000
/** Synthetic archives put objects before this day at the bucket root (the legacy layout). */
const ROOT_LEVEL_UNTIL = Date.UTC(2017, 0, 1)
/** Every Nth JSON object is a full API response instead of a bare vehicle list. */
const ENVELOPE_EVERY = 25

/** The field values of one vehicle at one time; null trip fields for vehicles between trips. */
type Fields = [string, string | number | boolean | null][]

function vehicleFields(vehicle: Vehicle, now: number, random: () => number): Fields {
  const route = vehicle.route
  const cycle = (now / (route.period * 60_000) + vehicle.phase) % 1
  const direction = cycle < 0.5 ? 0 : 1
  const along = direction === 0 ? cycle * 2 : 2 - cycle * 2
  const {lat, lon, bearing} = positionOn(route.path, along)
  const between = random() < 0.08
  const rail = route.type === 'rail'
  const serviceDate = Math.floor((now - 8 * HOUR_MS) / DAY_MS) * DAY_MS + 8 * HOUR_MS
  const stop = Math.floor(along * 40)
  const trip = (v: string | number | boolean | null) => (between ? null : v)
  return [
    ['expires', now + 30_000],
    ['signMessage', trip(route.sign[direction])],
    ['serviceDate', serviceDate],
    ['loadPercentage', rail ? null : trip(Math.floor(random() * 11) * 10)],
    ['latitude', Math.round((lat + (random() - 0.5) * 0.0008) * 1e7) / 1e7],
    ['nextStopSeq', trip(stop + 1)],
    ['source', rail ? 'tab' : random() < 0.98 ? 'vm' : 'aim'],
    ['type', route.type],
    ['blockID', vehicle.block],
    ['signMessageLong', trip(route.signLong[direction])],
    ['lastLocID', trip(1000 + route.number * 37 + stop)],
    ['nextLocID', trip(1001 + route.number * 37 + stop)],
    ['locationInScheduleDay', trip(Math.floor((now - serviceDate) / 1000) % 86_400)],
    ['newTrip', trip(random() < 0.02)],
    ['longitude', Math.round((lon + (random() - 0.5) * 0.0008) * 1e7) / 1e7],
    ['direction', trip(direction)],
    ['inCongestion', rail ? null : trip(random() < 0.1)],
    ['routeNumber', route.number],
    ['bearing', trip(direction === 0 ? bearing : (bearing + 180) % 360)],
    ['garage', trip(route.garage)],
    ['tripID', trip(String(vehicle.trip + Math.floor(now / (route.period * 60_000))))],
    ['delay', trip(Math.round((random() - 0.4) * 300))],
    ['extraBlockID', null],
    ['messageCode', trip(1000 + (route.number % 90))],
    ['lastStopSeq', trip(stop)],
    ['vehicleID', vehicle.id],
    ['time', now - Math.floor(random() * 60_000)],
    ['offRoute', random() < 0.01],
  ]
}

/** Python-2 repr of a scalar, as the original Lambda's `str(list)` wrote it. */
function reprScalar(value: string | number | boolean | null): string {
  if (value === null) return 'None'
  if (value === true) return 'True'
  if (value === false) return 'False'
  if (typeof value === 'string') return `u'${value}'`
  return String(value)
}

function jsonScalar(value: string | number | boolean | null): string {
  return typeof value === 'string' ? `"${value}"` : String(value)
}

/** Repr order differs from JSON order: a Python-2 dict's hash order, as the real repr objects have it. */
const REPR_ORDER = [10, 13, 20, 25, 18, 22, 9, 5, 16, 11, 8, 21, 6, 1, 2, 4, 7, 15, 12, 0, 17, 27, 3, 14, 19, 24, 26, 23]

function reprVehicle(fields: Fields): string {
  let text = '{'
  for (let i = 0; i < REPR_ORDER.length; i++) {
    const [name, value] = fields[REPR_ORDER[i]]
    const shown = name === 'latitude' || name === 'longitude' ? formatFloat(value as number) : reprScalar(value)
    text += `${i > 0 ? ', ' : ''}u'${name}': ${shown}`
  }
  return text + '}'
}

function jsonVehicle(fields: Fields): string {
  let text = '{'
  for (let i = 0; i < fields.length; i++) {
    const [name, value] = fields[i]
    const shown = name === 'latitude' || name === 'longitude' ? formatFloat(value as number) : jsonScalar(value)
    text += `${i > 0 ? ', ' : ''}"${name}": ${shown}`
  }
  return text + '}'
}

/**
 * A synthetic bustimes archive in the real key layout: one snapshot of the fleet per object (`rate` per hour,
 * default 60), Python-2 repr up to the 2021-11-10 cutoff and JSON after, some JSON objects as full API responses,
 * root-level keys before 2017. Deterministic for a seed.
 */
export async function* generateBustimes(options: GenerateOptions): AsyncIterable<GeneratedObject> {
  const rate = options.rate ?? 60
  if (!(rate > 0)) throw new Error(`rate must be a positive number of objects per hour (got ${rate})`)
  const every = Math.max(1000, Math.round(HOUR_MS / rate))
  const vehicles = fleet(options.seed)
  const from = options.range.from.getTime()
  const to = options.range.to.getTime()
  let index = 0
  for (let slot = Math.ceil(from / every) * every; slot < to; slot += every, index++) {
    const random = seededRandom((options.seed * 2_654_435_761) ^ Math.floor(slot / 1000))
    // The Lambda fired a few seconds into its minute; never so late that keys could collide or reorder.
    const jitterSeconds = Math.min(5, Math.floor(every / 2000))
    const now = Math.min(slot + Math.floor(random() * jitterSeconds) * 1000, to - 1)
    const time = new Date(Math.floor(now / 1000) * 1000)
    let key = bustimesLayout.keyFor!(time)
    if (now < ROOT_LEVEL_UNTIL) key = key.slice('raw/'.length)
    const repr = time.getTime() <= REPR_CUTOFF_TIME
    const parts: string[] = new Array(vehicles.length)
    for (let i = 0; i < vehicles.length; i++) {
      const fields = vehicleFields(vehicles[i], time.getTime(), random)
      parts[i] = repr ? reprVehicle(fields) : jsonVehicle(fields)
    }
    const list = `[${parts.join(', ')}]`
    const body = !repr && index % ENVELOPE_EVERY === ENVELOPE_EVERY - 1 ? `{"resultSet": {"queryTime": ${time.getTime()}, "vehicle": ${list}}}` : list
    yield {key, body, records: vehicles.length}
  }
}
