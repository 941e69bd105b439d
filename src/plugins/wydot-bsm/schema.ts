import type {JsonSchema} from '../core/source-kit.js'

/** Kinds of anomaly the generator injects; documented at the generator (generate.ts). */
export const ANOMALY_KINDS = ['position-jump', 'speed-spike', 'replay', 'spoofed-id'] as const

const odeTime = {type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})(\\[UTC\\])?$'}
const number = {type: 'number'}
const integer = {type: 'integer'}
/** v6 `receivedMessageDetails.locationData` carries its numbers as strings ("0"). */
const numericString = {type: 'string', pattern: '^-?\\d+(\\.\\d+)?$'}
const unavailableOr = (values: string[]) => ({type: 'string', enum: ['unavailable', ...values]})

/**
 * JSON Schema of one WYDOT BSM record as the USDOT ODE writes it (`OdeBsmPayload` around a J2735 BSM), covering
 * schema versions 1 (`metadata.generatedAt`), 3 and 5 (`recordGeneratedAt` with a `[UTC]` suffix) and 6 (plain
 * ISO 8601, `receivedMessageDetails`). Ranges are the J2735 ones: speed 0–163.82 m/s, heading 0–360°.
 */
export const bsmSchema: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://bucketwright.dev/schemas/wydot-bsm.json',
  title: 'WYDOT connected-vehicle Basic Safety Message (USDOT ODE output, schema versions 1–6)',
  type: 'object',
  required: ['metadata', 'payload'],
  properties: {
    metadata: {
      type: 'object',
      required: ['schemaVersion', 'payloadType', 'serialId'],
      properties: {
        schemaVersion: {type: 'integer', minimum: 1, maximum: 6},
        payloadType: {const: 'us.dot.its.jpo.ode.model.OdeBsmPayload'},
        recordGeneratedAt: odeTime,
        generatedAt: odeTime,
        receivedAt: odeTime,
        odeReceivedAt: odeTime,
        recordGeneratedBy: {type: 'string'},
        recordType: {type: 'string'},
        bsmSource: {type: 'string'},
        securityResultCode: {type: 'string'},
        logFileName: {type: 'string'},
        validSignature: {type: 'boolean'},
        sanitized: {type: 'boolean'},
        latency: number,
        // Only in generated data with anomalies asked for: the truth a detector is scored against (see generate.ts).
        anomaly: {enum: [...ANOMALY_KINDS, null]},
        serialId: {
          type: 'object',
          required: ['streamId', 'bundleSize', 'bundleId', 'recordId', 'serialNumber'],
          properties: {streamId: {type: 'string'}, bundleSize: integer, bundleId: integer, recordId: integer, serialNumber: integer},
        },
        receivedMessageDetails: {
          type: 'object',
          properties: {
            locationData: {
              type: 'object',
              properties: {latitude: numericString, longitude: numericString, elevation: numericString, speed: numericString, heading: numericString},
            },
            rxSource: {type: 'string'},
          },
        },
      },
      // v1 names the event time generatedAt; from v3 on it is recordGeneratedAt.
      if: {properties: {schemaVersion: {const: 1}}},
      then: {required: ['generatedAt']},
      else: {required: ['recordGeneratedAt']},
    },
    payload: {
      type: 'object',
      required: ['dataType', 'data'],
      properties: {
        dataType: {const: 'us.dot.its.jpo.ode.plugin.j2735.J2735Bsm'},
        schemaVersion: integer,
        data: {
          type: 'object',
          required: ['coreData'],
          properties: {
            coreData: {
              type: 'object',
              required: ['msgCnt', 'id', 'secMark', 'position'],
              properties: {
                msgCnt: {type: 'integer', minimum: 0, maximum: 127},
                id: {type: 'string', pattern: '^[0-9A-Fa-f]{8}$'},
                secMark: {type: 'integer', minimum: 0, maximum: 65535},
                position: {
                  type: 'object',
                  required: ['latitude', 'longitude'],
                  properties: {
                    latitude: {type: 'number', minimum: -90, maximum: 90},
                    longitude: {type: 'number', minimum: -180, maximum: 180},
                    elevation: {type: 'number', minimum: -409.5, maximum: 6143.9},
                  },
                },
                accelSet: {type: 'object', properties: {accelLat: number, accelLong: number, accelVert: number, accelYaw: number}},
                accuracy: {type: 'object', properties: {semiMajor: number, semiMinor: number, orientation: number}},
                transmission: {type: 'string', enum: ['NEUTRAL', 'PARK', 'FORWARDGEARS', 'REVERSEGEARS', 'RESERVED1', 'RESERVED2', 'RESERVED3', 'UNAVAILABLE']},
                speed: {type: 'number', minimum: 0, maximum: 163.82},
                heading: {type: 'number', minimum: 0, maximum: 360},
                angle: number,
                brakes: {
                  type: 'object',
                  properties: {
                    wheelBrakes: {
                      type: 'object',
                      properties: {leftFront: {type: 'boolean'}, rightFront: {type: 'boolean'}, unavailable: {type: 'boolean'}, leftRear: {type: 'boolean'}, rightRear: {type: 'boolean'}},
                    },
                    traction: unavailableOr(['off', 'on', 'engaged']),
                    abs: unavailableOr(['off', 'on', 'engaged']),
                    scs: unavailableOr(['off', 'on', 'engaged']),
                    brakeBoost: unavailableOr(['off', 'on']),
                    auxBrakes: unavailableOr(['off', 'on', 'reserved']),
                  },
                },
                size: {type: 'object', properties: {width: integer, length: integer}},
              },
            },
            partII: {
              type: 'array',
              items: {
                type: 'object',
                required: ['id', 'value'],
                properties: {
                  id: {type: 'string', enum: ['VEHICLESAFETYEXT', 'VehicleSafetyExtensions', 'SPECIALVEHICLEEXT', 'SpecialVehicleExtensions', 'SUPPLEMENTALVEHICLEEXT', 'SupplementalVehicleExtensions']},
                  value: {type: 'object'},
                },
              },
            },
          },
        },
      },
    },
    schemaVersion: integer,
  },
}
