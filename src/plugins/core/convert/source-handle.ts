import type {Config} from '@oclif/core'
import path from 'node:path'
import {pathToFileURL} from 'node:url'

import type {SourcesHookOptions} from '../sources/hook.js'
import type {SourceRegistry} from '../sources/registry.js'
import {type DataSource, type SourceFactory, SOURCES_HOOK} from '../sources/types.js'

/**
 * How a worker thread gets the same data source as the main thread: straight from the hook module of the plugin
 * that provides it (cheap), through the installation's whole registry (oclif root, so any plugin works), or from
 * a module that exports it (embedding, tests).
 */
export type SourceLoader =
  | {kind: 'registry'; root: string; name: string; options?: Record<string, string>}
  | {kind: 'hook'; modules: {url: string; identifier: string}[]; root: string; name: string; options?: Record<string, string>}
  | {kind: 'module'; url: string; name: string; options?: Record<string, string>}

type Entry = DataSource | SourceFactory

/** The loader for a source of a registry: its plugin's `bucketwright:sources` hook modules, else the registry. */
export function workerLoader(config: Config, registry: SourceRegistry, name: string, options?: Record<string, string>): SourceLoader {
  const origin = registry.origin(name)
  const plugin = origin ? config.plugins.get(origin.plugin) : undefined
  const hooks = plugin?.hooks[SOURCES_HOOK] ?? []
  if (!plugin || hooks.length === 0) return {kind: 'registry', root: config.root, name, options}
  return {kind: 'hook', modules: hooks.map((hook) => ({url: pathToFileURL(path.resolve(plugin.root, hook.target)).href, identifier: hook.identifier})), root: config.root, name, options}
}

function entriesOf(result: unknown): Entry[] {
  if (result === undefined || result === null) return []
  if (Array.isArray(result)) return result as Entry[]
  const module = result as {sources?: unknown; default?: unknown; decode?: unknown}
  if (Array.isArray(module.sources)) return module.sources as Entry[]
  if (module.default) return entriesOf(module.default)
  if (typeof module.decode === 'function') return [result as DataSource]
  return []
}

async function findIn(entries: Entry[], name: string): Promise<DataSource | undefined> {
  for (const entry of entries) {
    // A factory that names another source is not called (its modules are not loaded).
    if (typeof entry === 'function' && typeof entry.sourceName === 'string' && entry.sourceName !== name) continue
    const source = typeof entry === 'function' ? await entry() : entry
    if (source?.name === name) return source
  }
  return undefined
}

/** Loads a source as {@link SourceLoader} describes, applying its options. */
export async function loadSource(loader: SourceLoader): Promise<DataSource> {
  let source: DataSource | undefined
  if (loader.kind === 'hook') {
    // A hook is called without oclif's context; one that needs it falls back to loading the registry. A plugin's
    // hook gets the source kit, exactly as the registry hands it (plugins take DecodeError, readAll… from it);
    // bucketwright's own hook needs none.
    const quiet = {
      config: undefined,
      debug() {},
      log() {},
      warn() {},
      error(message: string) {
        throw new Error(message)
      },
      exit() {},
    }
    const builtin = new URL('../../builtin-sources.js', import.meta.url).href
    try {
      for (const hook of loader.modules) {
        const module = (await import(hook.url)) as Record<string, unknown>
        const fn = module[hook.identifier] ?? module.default
        const options: Partial<SourcesHookOptions> = hook.url === builtin ? {} : {core: await import('../source-kit.js')}
        source ??= await findIn(entriesOf(typeof fn === 'function' ? await (fn as (this: unknown, options: unknown) => unknown).call(quiet, options) : fn), loader.name)
      }
    } catch {
      source = undefined
    }
  }
  if (loader.kind === 'module') {
    const module = (await import(loader.url)) as unknown
    source = await findIn(entriesOf(module), loader.name)
    if (!source) throw new Error(`${loader.url} exports no source named "${loader.name}"`)
  }
  if (!source && loader.kind !== 'module') {
    const [{Config}, {SourceRegistry}] = await Promise.all([import('@oclif/core'), import('../sources/registry.js')])
    source = (await SourceRegistry.load(await Config.load(loader.root))).get(loader.name)
  }
  if (loader.options && Object.keys(loader.options).length > 0 && source!.configure) source = source!.configure(loader.options)
  return source!
}
