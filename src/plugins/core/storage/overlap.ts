import fs from 'node:fs/promises'
import path from 'node:path'

import {UsageError} from '../errors/errors.js'
import {LOCAL_TEMP_MARK} from './local.js'
import type {Storage} from './types.js'

/**
 * Where a command's output location lies relative to its input location: elsewhere, the same place, inside the
 * input (`convert ./in ./in/out`, `s3://b/` → `s3://b/v2/`), or around it (`convert ./data/raw ./data`).
 */
export type OverlapKind = 'apart' | 'same' | 'output-inside-input' | 'input-inside-output'

/**
 * The one rule for what a command that lists an input and writes an output leaves out of its input listing, so that
 * it never reads back its own outputs or bookkeeping and three runs give the records of one. Made by
 * {@link locationOverlap}; used by convert, etl, verify `--raw`, fetch and compact (whose input is its output).
 */
export interface LocationOverlap {
  readonly kind: OverlapKind
  /** The output location as a key prefix of the input (`out/`; `''` when they are the same), when it lies inside. */
  readonly outputPrefix?: string
  /** The input location as a key prefix of the output (`raw/`; `''` when they are the same), when it lies inside. */
  readonly inputPrefix?: string
  /**
   * True for an input key that is not input: any key in a `_manifests/` folder, our temp files (`.bw-tmp-*`), and
   * the output's keys — everything under the output location, or only those {@link OverlapOptions.isOutput} names.
   */
  excludesInput(key: string): boolean
  /** True for an output-side key that lies inside the input location: an output listing leaves it out. */
  excludesOutput(outputKey: string): boolean
  /**
   * The first of `locations` (input key prefixes the command lists) that lies in the output location: the output is,
   * or holds, where the input is. No listing can tell its objects apart there, so the command refuses the locations.
   */
  locationInOutput(locations: Iterable<string>): string | undefined
  /** True when the output location lies inside one of `locations`, so that their listings reach into it. */
  listedIn(locations: Iterable<string>): boolean
}

/** Options of {@link locationOverlap}. */
export interface OverlapOptions {
  /**
   * Whether an output key (relative to the output location) is one of the output's files, for a command that knows
   * them (verify's inventory): then only those, not everything under the output location, are left out of the input.
   */
  isOutput?: (outputKey: string) => boolean
}

/** Bookkeeping no command reads as input, wherever it lies: manifests (`…/_manifests/…`) and temp files. */
export function isBookkeepingKey(key: string): boolean {
  return key.startsWith('_manifests/') || key.includes('/_manifests/') || key.startsWith(LOCAL_TEMP_MARK, key.lastIndexOf('/') + 1)
}

/**
 * The inputs among the objects of one listing (one prefix's keys, as listed): without what `excludes` leaves out
 * ({@link LocationOverlap.excludesInput}), and without the outputs of earlier runs whose manifests lie in the same
 * listing — `D/<key>` beside `D/_manifests/<key>.json`, e.g. an older output folder `v1/` inside the input.
 */
export function inputsOf<T extends {key: string}>(listing: T[], excludes: (key: string) => boolean): T[] {
  let outputs: Set<string> | undefined
  for (const {key} of listing) {
    const manifest = key.includes('_manifests/') ? /^(.*?\/)?_manifests\/(.+)\.json$/.exec(key) : null
    if (manifest) (outputs ??= new Set()).add((manifest[1] ?? '') + manifest[2])
  }
  const inputs: T[] = []
  for (const info of listing) if (!excludes(info.key) && !outputs?.has(info.key)) inputs.push(info)
  return inputs
}

/** A location reduced to what makes two spellings of it equal: the store, and a `/`-separated path ending in `/`. */
interface Place {
  store: string
  path: string
}

/**
 * The real path of a directory that may not exist yet: its deepest existing ancestor with symbolic links resolved,
 * then the rest as written (so `./link/out`, with `link` → `in`, is `…/in/out`).
 */
async function realDirectory(dir: string): Promise<string> {
  const missing: string[] = []
  let current = dir
  for (;;) {
    try {
      return path.join(await fs.realpath(current), ...missing)
    } catch {
      const parent = path.dirname(current)
      if (parent === current) return dir
      missing.unshift(path.basename(current))
      current = parent
    }
  }
}

/** A store of local files by its real folder; any other by its URI: `scheme://bucket` and the prefix as the path. */
async function placeOf(location: Pick<Storage, 'uri' | 'localPath'>): Promise<Place> {
  const root = location.localPath?.('')
  if (root !== undefined) {
    const real = (await realDirectory(root)).split(path.sep).join('/')
    return {store: 'file://', path: real.endsWith('/') ? real : `${real}/`}
  }
  const match = /^([a-z][a-z0-9+.-]*:\/\/[^/]*)(\/.*)?$/i.exec(location.uri)
  const store = match?.[1] ?? location.uri
  const prefix = match?.[2] ?? '/'
  return {store, path: prefix.endsWith('/') ? prefix : `${prefix}/`}
}

/**
 * How `output` lies relative to `input` (both storages' root locations). Local paths are compared after resolving
 * symbolic links, so `./in/out`, `in/out/`, `file:///abs/in/out` and a symlinked spelling are one place; other
 * locations by their normalized URI, i.e. bucket and prefix (`s3://b/v2` is `s3://b/v2/`). Without an output (etl
 * into Postgres) only the bookkeeping is left out.
 */
export async function locationOverlap(input: Pick<Storage, 'uri' | 'localPath'>, output?: Pick<Storage, 'uri' | 'localPath'>, options: OverlapOptions = {}): Promise<LocationOverlap> {
  const [from, to] = await Promise.all([placeOf(input), output ? placeOf(output) : undefined])
  let outputPrefix: string | undefined
  let inputPrefix: string | undefined
  if (to && to.store === from.store) {
    if (to.path.startsWith(from.path)) outputPrefix = to.path.slice(from.path.length)
    if (from.path.startsWith(to.path)) inputPrefix = from.path.slice(to.path.length)
  }
  const kind: OverlapKind = outputPrefix === '' ? 'same' : outputPrefix !== undefined ? 'output-inside-input' : inputPrefix !== undefined ? 'input-inside-output' : 'apart'
  const {isOutput} = options
  const underOutput = (key: string) => outputPrefix !== undefined && key.startsWith(outputPrefix)
  return {
    kind,
    outputPrefix,
    inputPrefix,
    excludesInput(key) {
      if (isBookkeepingKey(key)) return true
      if (isOutput) return (underOutput(key) && isOutput(key.slice(outputPrefix!.length))) || (inputPrefix !== undefined && isOutput(inputPrefix + key))
      // Where both are one place, "under the output" is every key: the command keeps them apart by their keys.
      return kind === 'output-inside-input' && underOutput(key)
    },
    excludesOutput: (outputKey) => kind === 'input-inside-output' && outputKey.startsWith(inputPrefix!),
    locationInOutput(locations) {
      for (const location of locations) if (underOutput(location)) return location
      return undefined
    },
    listedIn(locations) {
      for (const location of locations) if (outputPrefix?.startsWith(location)) return true
      return false
    },
  }
}

/** Options of {@link foreignKeysInOutput}. */
export interface ForeignKeysOptions {
  /** Whether the command would take an input key as input (the source's layout knows its time). */
  isInput: (inputKey: string) => boolean
  /** Whether an output key is one the command writes (its key template), manifest or not. */
  isOutput: (outputKey: string) => boolean
  /** Stop after this many (default 3). */
  limit?: number
}

/**
 * Objects in an output location inside the input that the command would take as input but did not write: no
 * manifest names them and they are not of its outputs' form. The input listing leaves the output location out, so
 * they would be skipped unseen: a command that must read every input refuses such an output location. Lists the
 * manifests first, then the rest, stopping at `limit` keys found.
 */
export async function foreignKeysInOutput(output: Storage, overlap: LocationOverlap, options: ForeignKeysOptions): Promise<string[]> {
  const prefix = overlap.outputPrefix
  if (overlap.kind !== 'output-inside-input' || prefix === undefined) return []
  const manifests = new Set<string>()
  for await (const info of output.list('_manifests/')) manifests.add(info.key)
  const found: string[] = []
  for await (const info of output.list('')) {
    const key = info.key
    if (isBookkeepingKey(key) || manifests.has(`_manifests/${key}.json`) || options.isOutput(key) || !options.isInput(prefix + key)) continue
    found.push(key)
    if (found.length >= (options.limit ?? 3)) break
  }
  return found
}

/**
 * The usage error for an output location that is, or holds, where the input is: `what` says what would go wrong
 * (e.g. "convert would read its own outputs back as raw objects").
 */
export function outputHoldsInputError(locations: {input: string; output: string}, what: string, held?: string): UsageError {
  const same = held === undefined
  return new UsageError(same ? `The output location ${locations.output} is the input location: ${what}.` : `The output location ${locations.output} holds ${held} of the input location ${locations.input}: ${what}.`, {
    code: same ? 'OUTPUT_IS_INPUT' : 'OUTPUT_HOLDS_INPUT',
    nextSteps: [`Write the outputs to a folder of their own, e.g. ${locations.input}v2/ (a folder inside the input location is left out of its listing).`],
    details: {...locations, ...(held === undefined ? {} : {held})},
  })
}
