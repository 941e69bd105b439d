import {Args, Flags} from '@oclif/core'
import fs from 'node:fs/promises'
import path from 'node:path'

import {BaseCommand, ExitCode, optInCacheFlags, optInCacheValues, printable, sizeFlag, sourceFlags} from '../plugins/core/index.js'
import {athenaDdl} from '../plugins/core/verify/athena.js'
import {inventoryOutputs} from '../plugins/core/verify/outputs.js'
import {renderReport} from '../plugins/core/verify/report-html.js'
import type {AthenaDdlResult, VerifyResult} from '../plugins/core/verify/result.js'
import {withProgress} from '../plugins/core/verify/progress.js'
import {parseShare} from '../plugins/core/verify/sample.js'
import {loadUserChecks} from '../plugins/core/verify/sql-checks.js'
import {formatAthena, formatVerifyTable} from '../plugins/core/verify/table.js'
import {verifyDataset} from '../plugins/core/verify/verify.js'

/** The JSON contract of `bucketwright verify`: the verification, or the Athena DDL with `--athena-ddl`. */
export type VerifyCommandResult = VerifyResult | AthenaDdlResult

const share = (allowZero: boolean) =>
  Flags.custom<number>({
    parse: async (input) => {
      if (allowZero && /^0+(\.0*)?%?$/.test(input.trim())) return 0
      const value = parseShare(input)
      if (value === undefined) throw new Error(`"${input}" is not a share: use a percentage such as 10% or a fraction such as 0.1${allowZero ? ' (0 turns the check off)' : ''}.`)
      return value
    },
  })

export default class Verify extends BaseCommand<VerifyCommandResult> {
  static override summary = 'Prove that converted data is complete and sound: integrity, counts, gaps, duplicates, schema, your own SQL.'
  static override description = `Reads every output under OUTPUT (gzip/zstd JSONL or Parquet, local or S3) with DuckDB and checks:
integrity (every file read to its end), record counts against each manifest and against the raw objects re-read
with the source (--raw, all buckets or a --sample), missing buckets and sudden drops, duplicates on the source's
record key, records against the source's JSON Schema, and each --check query (over the view "records"; it must
return no rows). Prints a table, --json, or an offline HTML --report. With --raw, a gap whose raw side holds no
objects is "no data", not missing. Outputs without a manifest and data files that name no bucket are counted
warnings: listed, not failed.

Checks run in a DuckDB that can read the outputs being verified and nothing else: each must be one SELECT; COPY,
ATTACH, INSTALL/LOAD, SET, PRAGMA, a second statement or SQL that does not parse is a usage error (BAD_CHECK) before
anything is read; a SELECT that reads another file or a URL fails as its check.

Exit codes: 0 every check passed (warnings or not); 3 a check failed (the result is still printed); 1 the run could
not finish; 2 usage error, nothing read (e.g. an OUTPUT or --raw that does not exist or is a file, a --check that is
not one SELECT).`
  static override examples = [
    '<%= config.bin %> <%= command.id %> s3://bustimes-data/v2/ --raw s3://bustimes-data/ --source bustimes --sample 10%',
    `<%= config.bin %> <%= command.id %> ./out --source bustimes --check "SELECT * FROM records WHERE latitude NOT BETWEEN 44 AND 47" --report report.html`,
    '<%= config.bin %> <%= command.id %> ./out --source bustimes --json | jq .checks',
    '<%= config.bin %> <%= command.id %> s3://bustimes-data/v2/ --source bustimes --athena-ddl',
  ]
  static override args = {output: Args.string({description: 'Location of the outputs (s3://bucket/prefix/ or a local path).', required: true})}
  static override flags = {
    ...sourceFlags,
    raw: Flags.string({summary: 'Location of the raw objects to compare record counts with.', helpGroup: 'COUNTS'}),
    ...optInCacheFlags,
    sample: share(false)({summary: 'Share of buckets whose raw objects are re-read, e.g. 10% (chosen by hash of --seed and bucket).', default: 1, defaultHelp: async () => '100%', helpGroup: 'COUNTS'}),
    seed: Flags.string({summary: 'Seed of the bucket and record samples (same seed, same choice).', default: 'bucketwright', helpGroup: 'COUNTS'}),
    'schema-sample': share(true)({summary: 'Share of records checked against the source schema (0 turns the check off).', default: 1, defaultHelp: async () => '100%', helpGroup: 'CHECKS'}),
    'drop-threshold': Flags.custom<number>({
      parse: async (input) => {
        const value = Number(input)
        if (!(value >= 0 && value < 1)) throw new Error(`"${input}" is not a fraction between 0 and 1 (e.g. 0.5: a bucket below half its neighbours' median).`)
        return value
      },
    })({summary: "A bucket below this fraction of its neighbours' median is a sudden drop.", default: 0.5, helpGroup: 'CHECKS'}),
    'drop-window': Flags.integer({summary: 'Neighbours on each side a bucket is compared with.', default: 2, min: 1, helpGroup: 'CHECKS'}),
    check: Flags.string({summary: 'One SELECT over the view "records" that must return no rows (repeatable; a first line "-- name: x" names it).', multiple: true, multipleNonGreedy: true, helpGroup: 'CHECKS'}),
    'check-file': Flags.file({summary: 'File of such SELECTs separated by ";" ("-- name: x" before a query names it).', multiple: true, multipleNonGreedy: true, exists: true, helpGroup: 'CHECKS'}),
    'memory-limit': sizeFlag({summary: 'DuckDB memory limit (512MB = 512×10⁶ bytes, 1GiB = 2³⁰); larger work spills to disk.', default: 512e6, defaultHelp: async () => '512MB', helpGroup: 'RESOURCES'}),
    'disk-budget': sizeFlag({summary: 'Disk for S3 outputs spooled for DuckDB (2GB = 2×10⁹ bytes); checks run in batches of buckets that fit.', default: 2e9, defaultHelp: async () => '2GB', helpGroup: 'RESOURCES'}),
    threads: Flags.integer({summary: 'DuckDB threads (default: the cores).', min: 1, helpGroup: 'RESOURCES'}),
    'scan-threads': Flags.integer({summary: 'Threads reading and validating JSONL outputs (default: the cores, at most 4; 0: the main thread).', min: 0, max: 64, helpGroup: 'RESOURCES'}),
    report: Flags.string({summary: 'Write an offline HTML report (charts, checks, schema findings) to this file.', helpGroup: 'OUTPUT'}),
    'all-buckets': Flags.boolean({summary: 'List every bucket in the table, not only those with problems.', helpGroup: 'OUTPUT'}),
    adopt: Flags.boolean({
      summary: 'Adopt outputs made by another tool (no manifest): check them against every raw object of their buckets (records, integrity, schema) and write their manifests; nothing is written when a check fails.',
      dependsOn: ['raw'],
      helpGroup: 'COUNTS',
    }),
    'athena-ddl': Flags.boolean({summary: 'Print the Athena CREATE EXTERNAL TABLE and count queries instead of verifying.', exclusive: ['raw', 'check', 'check-file', 'report'], helpGroup: 'OUTPUT'}),
  }

  async run(): Promise<VerifyCommandResult> {
    const {args, flags} = await this.parse(Verify)
    const source = await this.dataSource(flags.source, flags['source-option'])
    const output = await this.openStorage(args.output, {role: 'input'})
    if (flags['athena-ddl']) {
      const result = athenaDdl(source, output.uri, (await inventoryOutputs(output)).files)
      if (!this.jsonEnabled()) this.log(formatAthena(result))
      return result
    }
    const checks = await loadUserChecks(flags.check ?? [], flags['check-file'] ?? [])
    const raw = flags.raw ? this.withCache(await this.openStorage(flags.raw, {role: 'input'}), optInCacheValues(flags)) : undefined
    const result = await withProgress(this.progress, this.logger, `Verifying ${output.uri}`, (step) =>
      verifyDataset({
        output,
        raw,
        source,
        // Adopting vouches for every adopted bucket: all of them are re-read, not a sample.
        rawShare: flags.adopt ? 1 : flags.sample,
        schemaShare: flags['schema-sample'],
        seed: flags.seed,
        dropThreshold: flags['drop-threshold'],
        dropWindow: flags['drop-window'],
        checks,
        memoryLimitBytes: flags['memory-limit'],
        threads: flags.threads,
        scanThreads: flags['scan-threads'],
        diskBudgetBytes: flags['disk-budget'],
        onProgress: step,
        adopt: flags.adopt ? {version: this.config.version} : undefined,
      }),
    )
    if (flags.report) {
      result.report = path.resolve(flags.report)
      await fs.writeFile(result.report, renderReport(result))
    }
    if (!this.jsonEnabled()) this.log(formatVerifyTable(result, {allBuckets: flags['all-buckets']}))
    const adoption = result.adoption
    if (adoption) {
      for (const key of adoption.adopted) this.logger.info(printable(`Adopted ${key}: manifest written (made by another tool; checked against its raw objects)`))
      for (const refused of adoption.refused) this.logger.warn(printable(`Not adopted ${refused.output}: ${refused.reason}`))
      if (!this.jsonEnabled())
        this.log(
          adoption.failedChecks
            ? `Adopted nothing: check ${adoption.failedChecks.join(', ')} failed; no manifest was written.`
            : `Adopted ${adoption.adopted.length} output(s) made by another tool${adoption.refused.length > 0 ? `; ${adoption.refused.length} not adopted (see the log)` : ''}.`,
        )
    }
    for (const check of result.checks.filter((candidate) => candidate.status === 'fail')) this.logger.error(printable(`Check ${check.name} failed: ${check.summary}`))
    if (result.warnings.length > 0) this.logger.warn(printable(`${result.warnings.length} warning(s), not checked: ${result.warnings[0]!.message}${result.warnings.length > 1 ? ', …' : ''}`))
    if (!result.ok) this.setOutcome(ExitCode.VerificationFailed)
    return result
  }
}
