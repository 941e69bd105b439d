import {Command, Errors, type Interfaces} from '@oclif/core'
import path from 'node:path'
import {format} from 'node:util'

import {applyCommandDefaults} from '../config/command-defaults.js'
import {type BucketwrightConfig, configPath, loadConfig} from '../config/config.js'
import {acquireRunLock, type RunLock} from '../config/run-lock.js'
import {ExitCode, UsageError} from '../errors/errors.js'
import {exitCodeFor, parseFailure, toBucketwrightError} from '../errors/normalise.js'
import {outputFormatOf, reportError} from '../errors/report.js'
import {Logger, logProcessWarnings} from '../progress/logger.js'
import {progressMode, type ProgressMode} from '../progress/tasks.js'
import {SourceRegistry} from '../sources/registry.js'
import type {DataSource} from '../sources/types.js'
import {ReadCache, type ReadCacheStats, withReadCache} from '../storage/cache.js'
import {type OpenStorageOptions, openStorage} from '../storage/open.js'
import type {Storage} from '../storage/types.js'
import {type CacheFlagValues, cacheSettings} from './cache-flags.js'
import {baseFlags, parseSourceOptions} from './flags.js'
import {printable} from './printable.js'

/** The parsed flags of a command class, base flags included. */
export type CommandFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>
/** The parsed arguments of a command class. */
export type CommandArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

/**
 * The base of every bucketwright command. `T` is the command's result: returned from `run()`, printed as the one
 * JSON document on stdout under `--json`, and the command's public contract. Logs and progress go to stderr.
 */
export abstract class BaseCommand<T> extends Command {
  static override enableJsonFlag = true
  static override baseFlags = baseFlags

  /** Timestamped logger on stderr (JSON lines with `--log-format json`). */
  protected logger!: Logger
  /** The config file's contents (empty when there is none). */
  protected settings: BucketwrightConfig = {}
  protected settingsFile = ''
  /** How progress is rendered. */
  protected progress: ProgressMode = 'plain'
  private base!: Interfaces.InferredFlags<typeof baseFlags>
  private readonly opened: Storage[] = []
  private readonly locks: RunLock[] = []
  private settingsLoaded = false
  private registry?: SourceRegistry
  private objectCache?: ReadCache
  private outcome: ExitCode = ExitCode.Ok

  abstract override run(): Promise<T>

  override async init(): Promise<void> {
    await super.init()
    const ctor = this.ctor as typeof BaseCommand
    // Whatever fails while the command line is parsed (an unknown flag, a flag given twice, a bad value) is a usage
    // error: nothing was done yet. A help flag ends parsing on purpose, with its own exit.
    const {flags} = await this.parse({flags: ctor.flags, baseFlags: ctor.baseFlags, args: ctor.args, strict: ctor.strict, enableJsonFlag: ctor.enableJsonFlag} as never).catch((error: unknown) => {
      throw error instanceof Errors.ExitError ? error : parseFailure(error)
    })
    this.base = flags as Interfaces.InferredFlags<typeof baseFlags>
    this.logger = new Logger({format: this.base['log-format'], quiet: this.base.quiet || this.jsonEnabled(), verbose: this.base.verbose})
    if (this.base['log-format'] === 'json') logProcessWarnings(this.logger)
    this.settingsFile = configPath(this.config.configDir, this.base.config)
    this.settings = await loadConfig(this.settingsFile)
    this.settingsLoaded = true
    this.progress = progressMode({json: this.jsonEnabled(), quiet: this.base.quiet, logFormat: this.base['log-format']})
  }

  /**
   * Parses the command line, then fills the flags it left to their defaults from the config file's
   * `commands["<command>"]` entry ({@link applyCommandDefaults}): command line and `BUCKETWRIGHT_*` variables first,
   * then the config file, then the flag's default — for every command.
   */
  protected override async parse<F extends Record<string, unknown>, B extends Record<string, unknown>, A extends Record<string, unknown>>(
    options?: Interfaces.Input<F, B, A>,
    argv?: string[],
  ): Promise<Interfaces.ParserOutput<F, B, A>> {
    const output = await super.parse(options, argv)
    // init's own parse runs before the config file is known (--config is one of the flags).
    if (this.settingsLoaded && options && this.id) {
      await applyCommandDefaults(output, {...options.baseFlags, ...options.flags} as Interfaces.FlagInput, this.id, this.settings, this.settingsFile)
    }
    return output
  }

  /** oclif's warnings go through the logger, so `--log-format json` keeps stderr all JSON. */
  override warn(input: string | Error): string | Error {
    if (!this.logger) return super.warn(input)
    this.logger.warn(input instanceof Error ? input.message : input)
    return input
  }

  /** S3 connection settings: flags and `BUCKETWRIGHT_*` over the config file. */
  protected storageOptions(): OpenStorageOptions {
    const file = this.settings.storage ?? {}
    return {
      endpoint: this.base.endpoint ?? file.endpoint,
      region: this.base.region ?? file.region,
      profile: this.base.profile ?? file.profile,
      anonymous: this.base.anonymous || (file.anonymous ?? false),
      forcePathStyle: this.base['path-style'] ?? file.forcePathStyle,
      retryBaseMs: process.env.BUCKETWRIGHT_RETRY_BASE_MS ? Number(process.env.BUCKETWRIGHT_RETRY_BASE_MS) : undefined,
      maxAttempts: process.env.BUCKETWRIGHT_MAX_ATTEMPTS ? Number(process.env.BUCKETWRIGHT_MAX_ATTEMPTS) : undefined,
    }
  }

  /** Opens a location with this command's S3 settings; closed when the command ends. */
  protected async openStorage(location: string, overrides: Partial<OpenStorageOptions> = {}): Promise<Storage> {
    const storage = await openStorage(location, {...this.storageOptions(), ...overrides})
    this.opened.push(storage)
    return storage
  }

  /**
   * Wraps a storage in the read-through object cache that {@link cacheFlags} configure, for commands that read raw
   * objects: S3 reads are then served from `--cache-dir` when the same object (key and ETag) was read before.
   * Local storages, and any storage under `--no-cache`, come back as they are. One cache per command run.
   */
  protected withCache(storage: Storage, flags: CacheFlagValues): Storage {
    const settings = cacheSettings(flags, this.config.cacheDir)
    if (!settings) return storage
    this.objectCache ??= new ReadCache({...settings, warn: (message) => this.logger.warn(message)})
    return withReadCache(storage, this.objectCache)
  }

  /** Hits, misses and bytes of the object cache in this run (`undefined` when no storage was wrapped). */
  protected cacheStats(): ReadCacheStats | undefined {
    return this.objectCache ? {...this.objectCache.stats} : undefined
  }

  /**
   * The data sources of this installation (built-ins and plugins). The first call with `only` loads at least that
   * source (sources whose factories name them ahead are left unloaded); any call the loaded ones cannot answer loads
   * them all.
   */
  protected async sources(only?: string): Promise<SourceRegistry> {
    if (!this.registry || (this.registry.partial && (only === undefined || !this.registry.has(only)))) {
      const registry = await SourceRegistry.load(this.config, {only: this.registry ? undefined : only})
      // Once per run, however often the command asks for sources.
      const reported = new Set(this.registry?.failures.map((failure) => `${failure.plugin}: ${failure.message}`))
      for (const failure of registry.failures) {
        if (!reported.has(`${failure.plugin}: ${failure.message}`)) this.logger.warn(`Plugin ${failure.plugin} could not load its data sources: ${failure.message}`)
      }
      this.registry = registry
    }
    return this.registry
  }

  /**
   * The data source a command works on: `--source` (or the config file's `source`), configured with its
   * `--source-option key=value` flags. A usage error when none is given or the name is unknown.
   */
  protected async dataSource(name: string | undefined, options: string[] = []): Promise<DataSource> {
    const chosen = name ?? this.settings.source
    if (!chosen) {
      const available = (await this.sources()).list().map((source) => source.name)
      throw new UsageError('No data source given.', {code: 'NO_SOURCE', nextSteps: [`Pass --source NAME (one of: ${available.join(', ')}).`]})
    }
    const found = await this.sources(chosen)
    // Not among the named ones: the whole registry, whose error lists every source there is.
    const source = (found.has(chosen) ? found : await this.sources()).get(chosen)
    if (options.length === 0) return source
    const parsed = parseSourceOptions(options)
    if (!source.configure) {
      throw new UsageError(`Source "${chosen}" takes no options.`, {code: 'BAD_SOURCE_OPTION', nextSteps: ['Remove --source-option.']})
    }
    try {
      return source.configure(parsed)
    } catch (error) {
      throw new UsageError(`Bad option for source "${chosen}": ${(error as Error).message}`, {
        code: 'BAD_SOURCE_OPTION',
        nextSteps: [
          `Options of ${chosen}: ${
            Object.entries(source.options ?? {})
              .map(([key, text]) => `${key} (${text})`)
              .join('; ') || 'none'
          }.`,
        ],
      })
    }
  }

  /** Takes the run lock of a job; released when the command ends. */
  protected async lockJob(job: string): Promise<void> {
    this.locks.push(await acquireRunLock(path.join(this.config.cacheDir, 'locks'), job))
  }

  /** Whether the command may prompt: a terminal on both ends and no `--json`. */
  protected canPrompt(): boolean {
    return Boolean(process.stdin.isTTY && process.stderr.isTTY) && !this.jsonEnabled()
  }

  /**
   * Fails fast where a prompt would be needed but cannot be shown, naming every flag that answers one at once, each
   * with an example value when `examples` has one (`{bucket: '--bucket my-raw-data'}`).
   */
  protected requireFlags(missing: string[], examples: Record<string, string> = {}): void {
    if (missing.length === 0) return
    const example = (flag: string) => examples[flag] ?? `--${flag} VALUE`
    throw new UsageError(`Missing ${missing.map((flag) => `--${flag}${examples[flag] ? ` (e.g. ${examples[flag]})` : ''}`).join(', ')} (no terminal to ask on).`, {
      code: 'MISSING_FLAGS',
      nextSteps: [`Add them to the command, with your own values: ${missing.map(example).join(' ')}`, 'Or run it in a terminal, which asks.'],
      details: {missing, examples: Object.fromEntries(missing.map((flag) => [flag, example(flag)]))},
    })
  }

  /**
   * Prints text output on stdout (nothing under `--json`). Control characters other than line breaks are shown as
   * escapes ({@link printable}): whatever a formatter let through, no key or value can drive the terminal.
   */
  override log(message = '', ...args: unknown[]): void {
    super.log(printable(format(message, ...args), {keepNewlines: true}))
  }

  /** Ends with a non-zero documented exit code while still printing the result (e.g. `Quarantined`). */
  protected setOutcome(code: ExitCode): void {
    if (code > this.outcome) this.outcome = code
  }

  protected override async catch(error: Error & {exitCode?: number}): Promise<unknown> {
    // A help or version flag (Flags.help, Flags.version) ends parsing with an exit 0: done, not an error.
    if (error instanceof Errors.ExitError && error.oclif.exit === 0) throw error
    const converted = toBucketwrightError(error)
    if (this.jsonEnabled()) {
      process.exitCode = exitCodeFor(converted)
      reportError(converted, {json: true, logFormat: 'text'})
      return
    }
    // Before the flags are parsed (or when parsing failed), the raw command line says how to print.
    const format = this.base ? {json: false, logFormat: this.base['log-format'] ?? 'text'} : outputFormatOf(this.argv)
    const logger = this.logger ?? new Logger({format: format.logFormat})
    if (converted.cause_ === 'bug' && this.base?.verbose) logger.error(error.stack ?? String(error))
    throw reportError(converted, format, logger)
  }

  protected override async finally(error: Error | undefined): Promise<unknown> {
    await Promise.allSettled(this.opened.map((storage) => storage.close()))
    await Promise.allSettled(this.locks.map((lock) => lock.release()))
    if (!error && this.outcome !== ExitCode.Ok) process.exitCode = this.outcome
    return super.finally(error)
  }
}
