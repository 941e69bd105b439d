import type {JsonSchema} from '../core/source-kit.js'

const int = {type: 'integer'}
const nullableInt = {type: ['integer', 'null']}
const nullableString = {type: ['string', 'null']}
const nullableBool = {type: ['boolean', 'null']}
const epochMs = {type: 'integer', minimum: 0, description: 'milliseconds since the epoch'}

/**
 * One TriMet WS v2 vehicle position (https://developer.trimet.org/ws_docs/vehicle_locations_ws.shtml) plus the
 * snapshot time taken from the object key. Trip fields are null for vehicles between trips (about 1 in 10 in the
 * real samples); `extraBlockID` is always null there, and rail rows lack `loadPercentage`/`inCongestion`.
 * Unknown fields are allowed: the API has added fields over the years.
 */
export const vehicleSchema: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://bucketwright.dev/schemas/bustimes-vehicle.json',
  title: 'TriMet vehicle position snapshot',
  type: 'object',
  required: ['vehicleID', 'time', 'latitude', 'longitude', 'snapshot_time'],
  properties: {
    vehicleID: int,
    tripID: nullableString,
    blockID: nullableInt,
    extraBlockID: nullableInt,
    routeNumber: nullableInt,
    direction: {type: ['integer', 'null'], enum: [0, 1, null]},
    type: {type: ['string', 'null'], description: '"bus" or "rail"'},
    latitude: {type: 'number', minimum: -90, maximum: 90},
    longitude: {type: 'number', minimum: -180, maximum: 180},
    bearing: {type: ['integer', 'null'], minimum: 0, maximum: 360},
    delay: {type: ['integer', 'null'], description: 'seconds; negative means early'},
    signMessage: nullableString,
    signMessageLong: nullableString,
    garage: nullableString,
    source: nullableString,
    messageCode: nullableInt,
    lastLocID: nullableInt,
    nextLocID: nullableInt,
    lastStopSeq: nullableInt,
    nextStopSeq: nullableInt,
    locationInScheduleDay: nullableInt,
    newTrip: nullableBool,
    offRoute: nullableBool,
    inCongestion: nullableBool,
    loadPercentage: {type: ['integer', 'null'], minimum: 0},
    time: epochMs,
    expires: {type: ['integer', 'null'], minimum: 0},
    serviceDate: {type: ['integer', 'null'], minimum: 0},
    // UTC, as the original converter wrote it (`…+00:00`, what bucketwright writes) or as `…Z` (earlier bucketwright).
    snapshot_time: {type: 'string', format: 'date-time', pattern: '(?:Z|\\+00:00)$'},
  },
  additionalProperties: true,
}
