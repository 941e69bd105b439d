import type {Storage} from '../storage/types.js'
import {createHash} from 'node:crypto'

/** One input of an output, as it was when read. */
export interface ManifestInput {
  key: string
  size: number
  etag?: string
}

/** An input set aside because it could not be decoded. */
export interface QuarantineEntry {
  key: string
  reason: string
  line?: number
}

/**
 * The manifest of one output file, stored at `_manifests/<output key>.json` beside the outputs (Athena and Hive
 * ignore `_` folders). Basis of resume (inputs changed?), verify (counts, checksums) and audit.
 */
export interface OutputManifest {
  manifestVersion: 1
  tool: {name: string; version: string}
  command: string
  source?: string
  createdAt: string
  output: {key: string; size: number; md5: string; sha256: string; etag?: string; format: string; compression: string}
  /** The time bucket or partition the output covers. */
  bucket?: {key: string; from?: string; to?: string}
  inputs: ManifestInput[]
  /** {@link inputsDigest} of `inputs`: a cheap way to see whether the inputs changed. */
  inputsDigest: string
  counts: {objects: number; records: number; quarantined: number; [name: string]: number}
  quarantined: QuarantineEntry[]
  /** Anything else the command records (row checksum, schema…). */
  extra?: Record<string, unknown>
}

/** Where the manifest of an output lives, relative to the output location. */
export function manifestKeyFor(outputKey: string): string {
  return `_manifests/${outputKey}.json`
}

/**
 * The pending marker of an output: written at the output's manifest key before the output, replaced by the manifest
 * after it. An output whose manifest key holds a marker was written by us and its run stopped before the manifest
 * (rebuild it); one with nothing there was made by another tool. Never a manifest: {@link readManifest} skips it.
 */
export interface PendingMarker {
  manifestVersion: 1
  state: 'pending'
  tool: {name: string; version: string}
  command: string
  createdAt: string
  output: {key: string}
}

/** True for a pending marker (read with {@link readManifestOrPending}). */
export function isPendingMarker(read: OutputManifest | PendingMarker | undefined): read is PendingMarker {
  return (read as PendingMarker | undefined)?.state === 'pending'
}

/** Marks an output as being written by us, before a byte of it is written. */
export async function writePendingMarker(storage: Storage, marker: PendingMarker): Promise<void> {
  await storage.write(manifestKeyFor(marker.output.key), JSON.stringify(marker, null, 2) + '\n', {contentType: 'application/json'})
}

/** Removes an output's pending marker when its write failed (the output is as it was before the marker). */
export async function clearPendingMarker(storage: Storage, outputKey: string): Promise<void> {
  await storage.delete([manifestKeyFor(outputKey)])
}

/** SHA-256 over the sorted `key size etag` lines of a set of inputs. */
export function inputsDigest(inputs: ManifestInput[]): string {
  const hash = createHash('sha256')
  for (const input of [...inputs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) hash.update(`${input.key}\t${input.size}\t${input.etag ?? ''}\n`)
  return hash.digest('hex')
}

/**
 * Reads an output's manifest, or `undefined` when there is none (or it is unreadable, which means: redo, or it is a
 * pending marker, which is no manifest).
 */
export async function readManifest(storage: Storage, outputKey: string): Promise<OutputManifest | undefined> {
  const read = await readManifestOrPending(storage, outputKey)
  return isPendingMarker(read) ? undefined : read
}

/** Reads what lies at an output's manifest key: its manifest, a pending marker, or `undefined` (none, unreadable). */
export async function readManifestOrPending(storage: Storage, outputKey: string): Promise<OutputManifest | PendingMarker | undefined> {
  const key = manifestKeyFor(outputKey)
  if (!(await storage.head(key))) return undefined
  try {
    return JSON.parse((await storage.readBytes(key)).toString('utf8')) as OutputManifest | PendingMarker
  } catch {
    return undefined
  }
}

/**
 * Writes an output's manifest (after the output itself, so a manifest always describes a complete output), replacing
 * its pending marker.
 */
export async function writeManifest(storage: Storage, manifest: OutputManifest): Promise<void> {
  await storage.write(manifestKeyFor(manifest.output.key), JSON.stringify(manifest, null, 2) + '\n', {contentType: 'application/json'})
}
