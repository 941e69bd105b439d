import path from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

import {UsageError} from '../errors/errors.js'

/** A parsed location: an S3 bucket and prefix, or a local directory. */
export type Location =
  | {kind: 's3'; bucket: string; prefix: string; uri: string}
  | {kind: 'local'; root: string; uri: string}

/**
 * Parses `s3://bucket/prefix`, `file:///abs/path` or a plain path (relative to `cwd`). Prefixes of S3 locations and
 * roots of local ones are treated as directories: `s3://b/raw` and `s3://b/raw/` are the same location.
 */
export function parseLocation(input: string, cwd = process.cwd()): Location {
  if (/^s3:\/\//i.test(input)) {
    const rest = input.slice(5)
    const slash = rest.indexOf('/')
    const bucket = slash === -1 ? rest : rest.slice(0, slash)
    let prefix = slash === -1 ? '' : rest.slice(slash + 1)
    if (!bucket) {
      throw new UsageError(`"${input}" names no bucket.`, {code: 'BAD_LOCATION', nextSteps: ['Write S3 locations as s3://bucket/prefix/.']})
    }
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

/** True when `name` is a valid S3 bucket name (3–63 chars, lowercase letters, digits, dots, hyphens). */
export function isValidBucketName(name: string): boolean {
  return /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) && !/\.\./.test(name) && !/^\d+\.\d+\.\d+\.\d+$/.test(name) && !name.startsWith('xn--') && !name.endsWith('-s3alias')
}

/** Joins key parts with single slashes. */
export function joinKey(...parts: string[]): string {
  return parts.filter(Boolean).join('/').replace(/\/{2,}/g, '/')
}
