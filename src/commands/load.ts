import {Args, Flags} from '@oclif/core'
import os from 'node:os'

import {BaseCommand, ExitCode, sourceFlags, UsageError} from '../plugins/core/index.js'
import {stopOnSignals} from '../plugins/core/etl/stop-signal.js'
import {type LoadResult, runLoad} from '../plugins/core/load/load.js'

export type {LoadFileResult, LoadResult} from '../plugins/core/load/load.js'

export default class Load extends BaseCommand<LoadResult> {
  static override summary = 'Upsert staging Parquet or JSON Lines files into a Postgres table, each file exactly once.'
  static override description = `Reads every .parquet, .jsonl and .ndjson (.gz, .zst) file under LOCATION — staging/YYYY-MM-DD/*.parquet, Hive key=value/ folders (their values become columns a file lacks), compact's outputs — in key order, and upserts its rows into --table on the record key (--key, or the --source's record key): one transaction per file, COPY into a temporary table then INSERT … ON CONFLICT, with a row in the load ledger (bucketwright_load_ledger: file, ETag, rows, schema version). A file in the ledger is never loaded again, even with two loaders racing or one killed mid-file; a file replaced later (new ETag) is loaded again. Struct and list columns become jsonb; with --normalize, struct fields become <field>__<sub> columns and lists child tables <table>__<field> (_parent_key, _pos), replaced with their parent. A new field adds a nullable column; a type the column cannot hold without loss stops the load at that file, nothing of it loaded.

Exit codes: 0 all loaded, 1 a file failed (nothing of it loaded; later files not reached), 2 usage error.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> ./staging --to postgres://etl@db.internal/trials --table studies --key protocolSection.identificationModule.nctId',
    '<%= config.bin %> <%= command.id %> s3://lake/staging/ --to postgres://etl@db.internal/markets --table trades --key product_id,trade_id --normalize --json',
  ]

  static override args = {
    location: Args.string({description: 'Where the staging files are (S3 location or local path).', required: true}),
  }

  static override flags = {
    ...sourceFlags,
    to: Flags.string({summary: 'The Postgres database: a postgres:// URL.', required: true, env: 'BUCKETWRIGHT_LOAD_TO'}),
    table: Flags.string({summary: 'Table to upsert into (created when missing); default: the --source name.'}),
    key: Flags.string({summary: "Record key, comma-separated: columns, or dotted paths into struct columns (default: the --source's record key)."}),
    normalize: Flags.boolean({summary: 'Struct fields as columns, lists as child tables <table>__<field> (default: jsonb columns).'}),
    'pg-schema': Flags.string({summary: 'Postgres schema of the tables and the ledger.', default: 'public'}),
  }

  async run(): Promise<LoadResult> {
    const {args, flags} = await this.parse(Load)
    if (!/^postgres(ql)?:\/\//.test(flags.to)) throw new UsageError(`--to ${flags.to} is not a postgres:// URL.`, {code: 'BAD_TARGET', nextSteps: ['Pass --to postgres://user@host/database.']})
    if ((!flags.key || !flags.table) && !flags.source && !this.settings.source) {
      throw new UsageError(`Name the table and its record key: ${[!flags.table && '--table', !flags.key && '--key'].filter(Boolean).join(' and ')} (or --source, whose name and record key are taken).`, {
        code: 'NO_TABLE_OR_KEY',
        nextSteps: ['Pass --table NAME --key COLUMN[,COLUMN…] (a dotted path reaches into a struct: --key protocolSection.identificationModule.nctId).'],
      })
    }
    const source = flags.key && flags.table ? undefined : await this.dataSource(flags.source, flags['source-option'])
    const key = flags.key
      ? flags.key
          .split(',')
          .map((part) => part.trim())
          .filter(Boolean)
      : (source?.recordKey ?? [])
    if (key.length === 0)
      throw new UsageError(`No record key: ${source ? `source "${source.name}" declares none` : 'pass --key'}.`, {
        code: 'NO_RECORD_KEY',
        nextSteps: ['Pass --key with the column(s) that identify a record, e.g. --key id or --key product_id,trade_id.'],
      })
    const table = flags.table ?? source!.name
    const staging = await this.openStorage(args.location, {role: 'input'})
    const stop = stopOnSignals()
    try {
      const result = await runLoad({staging, url: flags.to, table, key, normalize: flags.normalize, schema: flags['pg-schema'], logger: this.logger, tempRoot: os.tmpdir(), signal: stop.signal})
      const failed = result.files.find((file) => file.status === 'failed')
      if (failed?.error) {
        this.logger.error(`${failed.error.message}${failed.error.nextSteps.map((step) => `\n  → ${step}`).join('')}`)
        this.setOutcome(ExitCode.Failure)
      }
      if (!this.jsonEnabled())
        this.log(
          `${result.totals.loaded} file(s) loaded (${result.totals.rows} rows), ${result.totals.alreadyLoaded} already loaded${result.totals.failed ? `, ${result.totals.failed} failed` : ''} → ${table} at ${result.target}`,
        )
      return result
    } finally {
      stop.dispose()
    }
  }
}
