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

/** SHA-256 over the sorted `key size etag` lines of a set of inputs. */
export function inputsDigest(inputs: ManifestInput[]): string {
  const hash = createHash('sha256')
  for (const input of [...inputs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) hash.update(`${input.key}\t${input.size}\t${input.etag ?? ''}\n`)
  return hash.digest('hex')
}

/** Reads an output's manifest, or `undefined` when there is none (or it is unreadable, which means: redo). */
export async function readManifest(storage: Storage, outputKey: string): Promise<OutputManifest | undefined> {
  const key = manifestKeyFor(outputKey)
  if (!(await storage.head(key))) return undefined
  try {
    return JSON.parse((await storage.readBytes(key)).toString('utf8')) as OutputManifest
  } catch {
    return undefined
  }
}

/** Writes an output's manifest (after the output itself, so a manifest always describes a complete output). */
export async function writeManifest(storage: Storage, manifest: OutputManifest): Promise<void> {
  await storage.write(manifestKeyFor(manifest.output.key), JSON.stringify(manifest, null, 2) + '\n', {contentType: 'application/json'})
}
