import type {DataSource} from '../sources/types.js'

/**
 * How a worker thread gets the same data source as the main thread: through the installation's registry (oclif
 * root, so plugin sources work too) or from a module that exports it (embedding, tests).
 */
export type SourceLoader =
  | {kind: 'registry'; root: string; name: string; options?: Record<string, string>}
  | {kind: 'module'; url: string; name: string; options?: Record<string, string>}

/** Loads a source as {@link SourceLoader} describes, applying its options. */
export async function loadSource(loader: SourceLoader): Promise<DataSource> {
  let source: DataSource
  if (loader.kind === 'registry') {
    const [{Config}, {SourceRegistry}] = await Promise.all([import('@oclif/core'), import('../sources/registry.js')])
    const config = await Config.load(loader.root)
    source = (await SourceRegistry.load(config)).get(loader.name)
  } else {
    const module = (await import(loader.url)) as {default?: unknown; sources?: unknown}
    const entries = (Array.isArray(module.sources) ? module.sources : Array.isArray(module.default) ? module.default : [module.default]) as (DataSource | (() => DataSource | Promise<DataSource>))[]
    const all = await Promise.all(entries.map((entry) => (typeof entry === 'function' ? entry() : entry)))
    const found = all.find((candidate) => candidate?.name === loader.name)
    if (!found) throw new Error(`${loader.url} exports no source named "${loader.name}"`)
    source = found
  }
  if (loader.options && Object.keys(loader.options).length > 0 && source.configure) source = source.configure(loader.options)
  return source
}
