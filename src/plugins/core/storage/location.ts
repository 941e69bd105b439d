import path from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

import {UsageError} from '../errors/errors.js'

/** A parsed location: an S3 bucket and prefix, or a local directory. */
export type Location = {kind: 's3'; bucket: string; prefix: string; uri: string} | {kind: 'local'; root: string; uri: string}

/**
 * Parses `s3://bucket/prefix`, `file:///abs/path` or a plain path (relative to `cwd`). Prefixes of S3 locations and
 * roots of local ones are treated as directories: `s3://b/raw` and `s3://b/raw/` are the same location. A usage
 * error, before any request, for a location that cannot be meant: `s3:/bucket` (one slash), a bucket name no store
 * can hold, another scheme.
 */
export function parseLocation(input: string, cwd = process.cwd()): Location {
  if (/^s3:(?!\/\/[^/])/i.test(input)) {
    const rest = input.slice(3).replace(/^\/+/, '')
    if (!rest) throw new UsageError(`"${input}" names no bucket.`, {code: 'BAD_LOCATION', nextSteps: ['Write S3 locations as s3://bucket/prefix/.'], details: {location: input}})
    const meant = `s3://${rest}`
    throw new UsageError(`"${input}" is not an S3 location: did you mean ${meant.includes('/', 5) ? meant : meant + '/'}?`, {
      code: 'BAD_LOCATION',
      nextSteps: ['Write S3 locations with two slashes: s3://bucket/prefix/.', `For a local folder of that name, write ./${input}.`],
      details: {location: input},
    })
  }
  if (/^s3:\/\//i.test(input)) {
    const rest = input.slice(5)
    const slash = rest.indexOf('/')
    const bucket = slash === -1 ? rest : rest.slice(0, slash)
    let prefix = slash === -1 ? '' : rest.slice(slash + 1)
    checkBucketName(bucket, `"${input}" names bucket "${bucket}"`)
    if (prefix && !prefix.endsWith('/')) prefix += '/'
    return {kind: 's3', bucket, prefix, uri: `s3://${bucket}/${prefix}`}
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input) && !/^file:\/\//i.test(input)) {
    throw new UsageError(`"${input}" is not a location bucketwright can use.`, {
      code: 'BAD_LOCATION',
      nextSteps: ['Use s3://bucket/prefix/, a local path such as ./out, or file:///absolute/path.'],
    })
  }
  const root = /^file:\/\//i.test(input) ? fileURLToPath(input) : path.resolve(cwd, input)
  const href = pathToFileURL(root).href
  return {kind: 'local', root, uri: href.endsWith('/') ? href : href + '/'}
}

/**
 * A usage error, before any request, when no store can hold a bucket of this name ({@link bucketNameProblem}).
 * `named` says where the name came from, e.g. `--bucket "x"`.
 */
export function checkBucketName(bucket: string, named = `Bucket "${bucket}"`): void {
  const problem = bucketNameProblem(bucket)
  if (!problem) return
  throw new UsageError(`${named} cannot exist: ${problem}.`, {
    code: 'BAD_BUCKET_NAME',
    nextSteps: ['Check the bucket name: 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit.'],
    details: {bucket},
  })
}

/**
 * Why no S3 store can hold a bucket of this name, or `undefined` when one may. Looser than the rules for new AWS
 * buckets ({@link isValidBucketName}): buckets made in us-east-1 before March 2018, and some S3-compatible stores,
 * have names of up to 255 characters with capitals and underscores, and must stay reachable.
 */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'the name is empty'
  if (name.length < 3) return `a bucket name has at least 3 characters, "${name}" has ${name.length}`
  if (name.length > 255) return `a bucket name has at most 63 characters (255 for old us-east-1 buckets), this one has ${name.length}`
  const bad = [...new Set(name.replace(/[A-Za-z0-9._-]/g, ''))]
  if (bad.length > 0) return `${bad.map((char) => JSON.stringify(char)).join(', ')} cannot be part of a bucket name (letters, digits, dots, hyphens only)`
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return 'a bucket name cannot be an IP address'
  return undefined
}

/** True when `name` is a valid S3 bucket name (3–63 chars, lowercase letters, digits, dots, hyphens). */
export function isValidBucketName(name: string): boolean {
  return /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) && !/\.\./.test(name) && !/^\d+\.\d+\.\d+\.\d+$/.test(name) && !name.startsWith('xn--') && !name.endsWith('-s3alias')
}

/** Joins key parts with single slashes. */
export function joinKey(...parts: string[]): string {
  return parts
    .filter(Boolean)
    .join('/')
    .replace(/\/{2,}/g, '/')
}
