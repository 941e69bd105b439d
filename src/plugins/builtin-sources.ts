import {namedSource, type SourceFactory} from './core/source-kit.js'

/**
 * The built-in data sources, contributed through the same `bucketwright:sources` hook a third-party plugin uses.
 * Each is a named factory, so a source's modules load only when that source (or the list) is asked for.
 */
export default async function builtinSources(): Promise<SourceFactory[]> {
  return [
    namedSource('bustimes', async () => (await import('./bustimes/index.js')).bustimesSource),
    namedSource('json', async () => (await import('./json/index.js')).jsonSource),
    namedSource('ndjson', async () => (await import('./json/index.js')).ndjsonSource),
    namedSource('coinbase', async () => (await import('./coinbase/index.js')).coinbaseSource()),
    namedSource('wydot-bsm', async () => (await import('./wydot-bsm/index.js')).wydotBsmSource()),
  ]
}
