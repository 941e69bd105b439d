import type {Config} from '@oclif/core'

import {UsageError} from '../errors/errors.js'
import type {SourceKit} from './hook.js'
import {type DataSource, SOURCES_HOOK, type SourceOrigin, type SourcePluginModule} from './types.js'

export {SOURCES_HOOK} from './types.js'
export type {SourceKit, SourcesHookOptions} from './hook.js'

/** How long one plugin's hook may take before it is reported as broken instead of holding every command up. */
const HOOK_TIMEOUT_MS = 15_000

/** A source as listed by `bucketwright sources`. */
export interface SourceListing {
  name: string
  description: string
  plugin: string
  version?: string
  builtIn: boolean
  channels: string[]
}

/** A plugin whose sources could not be loaded, with the reason; the other sources still work. */
export interface BrokenPlugin {
  plugin: string
  message: string
}

/**
 * The data sources of this installation: the built-ins and those of installed oclif plugins, collected through the
 * {@link SOURCES_HOOK} hook. A plugin whose hook throws is recorded in {@link failures}, never fatal.
 */
export class SourceRegistry {
  private constructor(
    private readonly sources: Map<string, {source: DataSource; origin: SourceOrigin}>,
    readonly failures: BrokenPlugin[],
    /** Some sources were left unloaded (see {@link load}'s `only`): listing needs the whole registry. */
    readonly partial = false,
  ) {}

  /**
   * Loads every plugin's sources; with `only`, factories that name another source are not called (the registry then
   * holds that source, and any a plugin did not name ahead).
   */
  static async load(config: Config, options: {only?: string} = {}): Promise<SourceRegistry> {
    // Plugins get the source kit in the hook's options (as `core`). bucketwright's own hook needs none, so without
    // other plugins it is not loaded here.
    const others = [...config.plugins.values()].some((plugin) => plugin.name !== config.name && (plugin.hooks[SOURCES_HOOK]?.length ?? 0) > 0)
    const core: SourceKit | undefined = others ? await import('../source-kit.js') : undefined
    // Capture every error (even an oclif exit from a plugin's this.error()): one broken plugin must not stop the CLI.
    const result = await config.runHook(SOURCES_HOOK as never, {core} as never, HOOK_TIMEOUT_MS, true)
    const sources = new Map<string, {source: DataSource; origin: SourceOrigin}>()
    let partial = false
    const failures: BrokenPlugin[] = result.failures.map((failure) => ({plugin: failure.plugin.name, message: failure.error?.message ?? String(failure.error)}))
    for (const success of result.successes) {
      const plugin = success.plugin
      const origin: SourceOrigin = {plugin: plugin.name, version: plugin.version, builtIn: plugin.name === config.name}
      try {
        for (const entry of normalise(success.result)) {
          if (options.only !== undefined && typeof entry === 'function' && typeof entry.sourceName === 'string' && entry.sourceName !== options.only) {
            partial = true
            continue
          }
          const source = typeof entry === 'function' ? await entry() : entry
          if (!source || typeof source.name !== 'string' || typeof source.decode !== 'function' || !source.layout) {
            throw new Error('a source must have a name, a layout and a decode function')
          }
          if (sources.has(source.name)) {
            failures.push({plugin: plugin.name, message: `source "${source.name}" is already provided by ${sources.get(source.name)!.origin.plugin}; ignored`})
            continue
          }
          sources.set(source.name, {source, origin})
        }
      } catch (error) {
        failures.push({plugin: plugin.name, message: (error as Error).message})
      }
    }
    return new SourceRegistry(sources, failures, partial)
  }

  /** Builds a registry from sources in hand (tests, embedding). */
  static of(sources: DataSource[], origin: SourceOrigin = {plugin: 'bucketwright', builtIn: true}): SourceRegistry {
    return new SourceRegistry(new Map(sources.map((source) => [source.name, {source, origin}])), [])
  }

  list(): SourceListing[] {
    return [...this.sources.values()]
      .map(({source, origin}) => ({
        name: source.name,
        description: source.description,
        plugin: origin.plugin,
        version: origin.version,
        builtIn: origin.builtIn,
        channels: source.channels?.map((channel) => channel.name) ?? [],
      }))
      .sort((a, b) => a.name.localeCompare(b.name))
  }

  has(name: string): boolean {
    return this.sources.has(name)
  }

  /** The source named `name`; a usage error listing the available ones otherwise. */
  get(name: string): DataSource {
    const entry = this.sources.get(name)
    if (entry) return entry.source
    const broken = this.failures.map((failure) => `Plugin ${failure.plugin} failed to load: ${failure.message}`)
    throw new UsageError(`Unknown data source "${name}".`, {
      code: 'UNKNOWN_SOURCE',
      nextSteps: [`Available: ${[...this.sources.keys()].sort().join(', ') || '(none)'}.`, 'Install a source plugin with `bucketwright plugins install <package>`.', ...broken],
    })
  }

  origin(name: string): SourceOrigin | undefined {
    return this.sources.get(name)?.origin
  }
}

function normalise(result: unknown): SourcePluginModule['sources'] {
  if (result === undefined || result === null) return []
  if (Array.isArray(result)) return result
  const module = result as Partial<SourcePluginModule> & {default?: unknown}
  if (Array.isArray(module.sources)) return module.sources
  if (module.default) return normalise(module.default)
  if (typeof (result as DataSource).decode === 'function') return [result as DataSource]
  throw new Error('the bucketwright:sources hook must return an array of data sources')
}
