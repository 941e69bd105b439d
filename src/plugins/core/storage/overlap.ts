import fs from 'node:fs/promises'
import path from 'node:path'

import {LOCAL_TEMP_MARK} from './local.js'
import {parseLocation} from './location.js'
import type {Storage} from './types.js'

/**
 * Where a command's output location lies relative to its input location: elsewhere, the same place, inside the
 * input (`convert ./in ./in/out`, `s3://b/` → `s3://b/v2/`), or around it (`convert ./data/raw ./data`).
 */
export type OverlapKind = 'apart' | 'same' | 'output-inside-input' | 'input-inside-output'

/**
 * The one rule for what a command that lists an input and writes an output must leave out of its input listing, so
 * that it never reads back its own outputs or bookkeeping: three runs give the records of one. Made by
 * {@link locationOverlap}, used by convert, etl, verify `--raw`, fetch and compact (whose input is its output).
 */
export interface LocationOverlap {
  readonly kind: OverlapKind
  /** The output location as a key prefix of the input (`out/`; `''` when they are the same), when it lies inside. */
  readonly outputPrefix?: string
  /** The input location as a key prefix of the output (`raw/`; `''` when they are the same), when it lies inside. */
  readonly inputPrefix?: string
  /**
   * True for an input key that is not input: anything under the output location (outputs, their manifests, other
   * runs' outputs there), any key in a `_manifests/` folder, our temp files (`.bw-tmp-*`), and — when the input lies
   * in the output — the keys the caller knows as outputs ({@link OverlapOptions.isOutput}).
   */
  excludesInput(key: string): boolean
  /**
   * True for an output key that lies inside the input location: written there, it would be listed as input by the
   * next run (or overwrite a raw object).
   */
  outputInInput(outputKey: string): boolean
  /** True for an output-side key that belongs to the input location (an output listing leaves it out). */
  excludesOutput(outputKey: string): boolean
}

/** Bookkeeping no command reads as input, wherever it lies: manifests (`…/_manifests/…`) and temp files. */
export function isBookkeepingKey(key: string): boolean {
  if (key.startsWith('_manifests/') || key.includes('/_manifests/')) return true
  const name = key.slice(key.lastIndexOf('/') + 1)
  return name.startsWith(LOCAL_TEMP_MARK)
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

async function placeOf(storage: Storage): Promise<Place> {
  const location = parseLocation(storage.uri)
  if (location.kind === 's3') return {store: `s3://${location.bucket}`, path: `/${location.prefix}`}
  const real = (await realDirectory(location.root)).split(path.sep).join('/')
  return {store: 'file://', path: real.endsWith('/') ? real : `${real}/`}
}

/** Options of {@link locationOverlap}. */
export interface OverlapOptions {
  /**
   * Whether an output key (relative to the output location) is one of the output's files, for a command that knows
   * them (verify's inventory): where the input lies in the output, those keys are left out of the input.
   */
  isOutput?: (outputKey: string) => boolean
}

/**
 * How `output` lies relative to `input` (both storages' root locations). Local paths are compared after resolving
 * symbolic links, so `./in/out`, `in/out/`, `file:///abs/in/out` and a symlinked spelling are one place; S3
 * locations by bucket and prefix (`s3://b/v2` is `s3://b/v2/`). Without an output (etl into Postgres) only the
 * bookkeeping is left out.
 */
export async function locationOverlap(input: Storage, output?: Storage, options: OverlapOptions = {}): Promise<LocationOverlap> {
  const [from, to] = await Promise.all([placeOf(input), output ? placeOf(output) : undefined])
  let kind: OverlapKind = 'apart'
  let outputPrefix: string | undefined
  let inputPrefix: string | undefined
  if (to && to.store === from.store) {
    if (to.path.startsWith(from.path)) outputPrefix = to.path.slice(from.path.length)
    if (from.path.startsWith(to.path)) inputPrefix = from.path.slice(to.path.length)
    kind = outputPrefix === '' ? 'same' : outputPrefix !== undefined ? 'output-inside-input' : inputPrefix !== undefined ? 'input-inside-output' : 'apart'
  }
  return {
    kind,
    outputPrefix,
    inputPrefix,
    // When both are the same place, the output is not one folder that can be left out: the command must keep its
    // outputs apart from its inputs by their keys (compact's layouts, etl's stages) or refuse the locations.
    excludesInput: (key) =>
      isBookkeepingKey(key) || (Boolean(outputPrefix) && key.startsWith(outputPrefix!)) || (inputPrefix !== undefined && options.isOutput?.(inputPrefix + key) === true),
    outputInInput: (outputKey) => inputPrefix !== undefined && outputKey.startsWith(inputPrefix),
    excludesOutput: (outputKey) => Boolean(inputPrefix) && outputKey.startsWith(inputPrefix!),
  }
}
