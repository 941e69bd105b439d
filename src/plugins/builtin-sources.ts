import type {DataSource} from './core/index.js'

/**
 * The built-in data sources, contributed through the same `bucketwright:sources` hook a third-party plugin uses.
 * Each is a factory so a source's modules load only when sources are asked for.
 */
export default async function builtinSources(): Promise<(() => Promise<DataSource>)[]> {
  return [
    async () => (await import('./bustimes/index.js')).bustimesSource,
    async () => (await import('./json/index.js')).jsonSource,
    async () => (await import('./json/index.js')).ndjsonSource,
    async () => (await import('./coinbase/index.js')).coinbaseSource(),
    async () => (await import('./wydot-bsm/index.js')).wydotBsmSource(),
  ]
}
