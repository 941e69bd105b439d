import {BaseCommand, type BrokenPlugin, printable, type SourceListing} from '../plugins/core/index.js'

/** The JSON contract of `bucketwright sources`. */
export interface SourcesResult {
  sources: SourceListing[]
  brokenPlugins: BrokenPlugin[]
}

export default class Sources extends BaseCommand<SourcesResult> {
  static override summary = 'List the data sources this installation knows, and which plugin gives each.'
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']

  async run(): Promise<SourcesResult> {
    await this.parse(Sources)
    const registry = await this.sources()
    const sources = registry.list()
    if (!this.jsonEnabled()) {
      const origin = (source: SourceListing) => printable(source.builtIn ? 'built-in' : `${source.plugin}@${source.version ?? ''}`)
      const width = Math.max(6, ...sources.map((source) => printable(source.name).length))
      const pluginWidth = Math.max(8, ...sources.map((source) => origin(source).length))
      this.log(`${'SOURCE'.padEnd(width)}  ${'PLUGIN'.padEnd(pluginWidth)}  DESCRIPTION`)
      for (const source of sources) this.log(`${printable(source.name).padEnd(width)}  ${origin(source).padEnd(pluginWidth)}  ${printable(source.description)}`)
      for (const broken of registry.failures) this.log(`${'(broken)'.padEnd(width)}  ${printable(broken.plugin).padEnd(pluginWidth)}  ${printable(broken.message)}`)
    }
    return {sources, brokenPlugins: registry.failures}
  }
}
