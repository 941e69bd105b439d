import {UsageError} from '../errors/errors.js'
import type {ObjectOptions} from './types.js'

/** S3's storage classes (`x-amz-storage-class`). */
export const STORAGE_CLASSES = ['STANDARD', 'REDUCED_REDUNDANCY', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER', 'DEEP_ARCHIVE', 'GLACIER_IR', 'OUTPOSTS', 'SNOW', 'EXPRESS_ONEZONE'] as const
/** Server-side encryption: SSE-S3 and SSE-KMS. */
export const SSE_MODES = ['AES256', 'aws:kms'] as const
/** S3's canned ACLs (`x-amz-acl`). */
export const CANNED_ACLS = ['private', 'public-read', 'public-read-write', 'authenticated-read', 'aws-exec-read', 'bucket-owner-read', 'bucket-owner-full-control'] as const

/** S3 limits the user metadata of one object (names and values, UTF-8) to 2 KB. */
const METADATA_LIMIT = 2048
/** An HTTP header name (RFC 9110 token): what may follow `x-amz-meta-`. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
/** What a header value may hold: printable ASCII and tabs (S3 keeps metadata values as US-ASCII headers). */
const HEADER_VALUE = /^[\t\x20-\x7e]*$/

/** The flags' values as given (command line, `BUCKETWRIGHT_*`, or the config file). */
export interface ObjectFlagValues {
  'storage-class'?: string
  sse?: string
  'sse-kms-key-id'?: string
  acl?: string
  metadata?: string[]
}

/**
 * The one parser of the object flags into {@link ObjectOptions}: each bad value is a usage error naming its flag,
 * before anything is read or written. `undefined` when no flag is set (writes stay as they were).
 */
export function parseObjectOptions(flags: ObjectFlagValues): ObjectOptions | undefined {
  const options: ObjectOptions = {}
  if (flags['storage-class'] !== undefined) options.storageClass = oneOf('--storage-class', flags['storage-class'], STORAGE_CLASSES, (value) => value.toUpperCase())
  if (flags.sse !== undefined) options.sse = oneOf('--sse', flags.sse, SSE_MODES, (value) => (value.toLowerCase() === 'aws:kms' ? 'aws:kms' : value.toUpperCase()))
  if (flags['sse-kms-key-id'] !== undefined) {
    const key = flags['sse-kms-key-id'].trim()
    if (options.sse !== 'aws:kms') {
      throw new UsageError(`--sse-kms-key-id ${key} needs --sse aws:kms${options.sse ? ` (got --sse ${options.sse})` : ''}: the key is used only for SSE-KMS.`, {
        code: 'BAD_OBJECT_OPTION',
        nextSteps: ['Add --sse aws:kms, or leave out --sse-kms-key-id.'],
        details: {flag: '--sse-kms-key-id', value: key, sse: options.sse},
      })
    }
    if (!key || !HEADER_VALUE.test(key)) throw bad('--sse-kms-key-id', flags['sse-kms-key-id'], 'is not a KMS key id, alias or ARN', ['Pass a key id, an alias (alias/name) or a key ARN.'])
    options.sseKmsKeyId = key
  }
  if (flags.acl !== undefined) options.acl = oneOf('--acl', flags.acl, CANNED_ACLS, (value) => value.toLowerCase())
  if (flags.metadata && flags.metadata.length > 0) options.metadata = parseMetadata(flags.metadata)
  return Object.keys(options).length > 0 ? options : undefined
}

/** `key=value` pairs into user metadata (names lowercase, as S3 keeps them; a later key wins). */
function parseMetadata(pairs: string[]): Record<string, string> {
  const metadata: Record<string, string> = {}
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw bad('--metadata', pair, 'is not key=value', ['Write it as --metadata key=value (repeat the flag for more).'])
    const key = pair.slice(0, eq)
    const value = pair.slice(eq + 1)
    if (!TOKEN.test(key))
      throw bad('--metadata', pair, `has a key (${JSON.stringify(key)}) that is not a valid HTTP header name`, ["Use letters, digits and - _ . ! # $ % & ' * + ^ ` | ~ in the key (no spaces, colons or slashes)."])
    if (!HEADER_VALUE.test(value))
      throw bad('--metadata', pair, 'has a value with characters an HTTP header cannot carry (control characters or non-ASCII)', ['Use printable ASCII in metadata values (encode anything else, e.g. as URL encoding).'])
    metadata[key.toLowerCase()] = value
  }
  const size = Object.entries(metadata).reduce((sum, [key, value]) => sum + Buffer.byteLength(key) + Buffer.byteLength(value), 0)
  if (size > METADATA_LIMIT) {
    throw new UsageError(`--metadata adds up to ${size} bytes; S3 allows at most ${METADATA_LIMIT} bytes of user metadata per object.`, {
      code: 'BAD_OBJECT_OPTION',
      nextSteps: ['Keep fewer or shorter metadata entries.'],
      details: {flag: '--metadata', size, limit: METADATA_LIMIT},
    })
  }
  return metadata
}

function oneOf<T extends string>(flag: string, given: string, allowed: readonly T[], normalize: (value: string) => string): T {
  const value = normalize(given.trim())
  if ((allowed as readonly string[]).includes(value)) return value as T
  throw bad(flag, given, 'is not one S3 knows', [`Use one of: ${allowed.join(', ')}.`])
}

function bad(flag: string, value: string, what: string, nextSteps: string[]): UsageError {
  return new UsageError(`${flag} ${JSON.stringify(value)} ${what}.`, {code: 'BAD_OBJECT_OPTION', nextSteps, details: {flag, value}})
}

/** The request headers of the options, as S3's REST API names them (user metadata apart: see objectHeaders). */
export function objectOptionHeaders(options: ObjectOptions | undefined): Record<string, string> {
  const headers: Record<string, string> = {}
  if (!options) return headers
  if (options.storageClass) headers['x-amz-storage-class'] = options.storageClass
  if (options.sse) headers['x-amz-server-side-encryption'] = options.sse
  if (options.sseKmsKeyId) headers['x-amz-server-side-encryption-aws-kms-key-id'] = options.sseKmsKeyId
  if (options.acl) headers['x-amz-acl'] = options.acl
  return headers
}

/** The SDK's fields for the same options (PutObject, CreateMultipartUpload, CopyObject). */
export function objectOptionFields(options: ObjectOptions | undefined): {StorageClass?: never; ServerSideEncryption?: never; SSEKMSKeyId?: string; ACL?: never} {
  if (!options) return {}
  return {
    StorageClass: options.storageClass as never,
    ServerSideEncryption: options.sse as never,
    SSEKMSKeyId: options.sseKmsKeyId,
    ACL: options.acl as never,
  }
}

/** The options as command-line arguments again (for a printed service unit that must run with the same ones). */
export function objectOptionArgs(options: ObjectOptions | undefined): string[] {
  if (!options) return []
  const args: string[] = []
  if (options.storageClass) args.push('--storage-class', options.storageClass)
  if (options.sse) args.push('--sse', options.sse)
  if (options.sseKmsKeyId) args.push('--sse-kms-key-id', options.sseKmsKeyId)
  if (options.acl) args.push('--acl', options.acl)
  for (const [key, value] of Object.entries(options.metadata ?? {})) args.push('--metadata', `${key}=${value}`)
  return args
}
