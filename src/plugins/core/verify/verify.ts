import type {DuckDB} from '../duckdb/duckdb.js'
import {Spool} from '../duckdb/spool.js'
import {UserError} from '../errors/errors.js'
import {RecordValidator} from '../schema/validator.js'
import {locationOverlap} from '../storage/overlap.js'
import {adoptForeignOutputs} from './adopt.js'
import {assembleResult, type FileFindings, type RawComparison} from './assemble.js'
import {forEachLimit} from '../kit/concurrency.js'
import type {VerifyOptions} from './options.js'
import {inventoryOutputs, type OutputFile} from './outputs.js'
import {countRawBucket, listRawBuckets, type RawBucketCount} from './raw.js'
import type {VerifyResult} from './result.js'
import {chooseSample, seededRandom} from './sample.js'
import {openSandboxedDuckDB} from './sandbox.js'
import {type FileScan, type ScanOptions, scanJsonl} from './scan.js'
import {ScanPool, type SchemaTally} from './scan-pool.js'
import {countParquet, defineRecordsView, type DuckFile, type DuplicateFindings, findDuplicates, runUserCheck, type SqlRunner, sqlRunner, type UserCheckRun, validateParquet} from './sql-checks.js'

export type {VerifyOptions} from './options.js'

/**
 * Verifies a converted dataset: every output read to its end (integrity, checksums, record counts against the
 * manifest), counts against the raw objects re-read with the source, continuity of the buckets, duplicates on the
 * record key, records against the schema, and the user's SQL checks — DuckDB over the files (spooled from S3 in
 * batches under the disk budget, memory bounded). Returns the result; `ok` is false when any check failed.
 */
export async function verifyDataset(options: VerifyOptions): Promise<VerifyResult> {
  const started = Date.now()
  const progress = options.onProgress ?? (() => {})
  const {source} = options
  // When one location lies in the other, neither listing takes in the other's objects (storage/overlap.ts).
  const overlap = options.raw ? await locationOverlap(options.raw, options.output) : undefined
  const inventory = await inventoryOutputs(options.output, {exclude: overlap?.excludesOutput})
  if (inventory.files.length === 0 && inventory.orphanManifests.length === 0) {
    throw new UserError(`No outputs found under ${options.output.uri}.`, {
      code: 'NO_OUTPUTS',
      nextSteps: [
        'Check the output location (the one given to convert), e.g. s3://bucket/v2/.',
        'Outputs are files such as 2024-W03.jsonl.gz or *.parquet, with manifests under _manifests/.',
        ...(inventory.unbucketed.length > 0 ? [`${inventory.unbucketed.length} data file(s) there name no time bucket, e.g. ${inventory.unbucketed[0]}: verify reads outputs whose names hold their bucket.`] : []),
      ],
    })
  }
  progress(`Verifying ${inventory.files.length} outputs under ${options.output.uri}`)
  const validator = source.schema && options.schemaShare > 0 ? await RecordValidator.create(source.schema) : undefined
  const findings = inventory.files.map((file): FileFindings => ({file, duplicates: 0, invalid: 0, problems: []}))
  const userRuns = new Map(options.checks.map((check) => [check.name, {rows: 0, examples: [] as Record<string, unknown>[], errors: [] as string[]}]))
  const duplicateExamples: Record<string, unknown>[] = []
  const duplicateErrors: string[] = []
  const batches = batchBySize(findings, options.output.localPath ? Number.POSITIVE_INFINITY : options.diskBudgetBytes)

  const spool = new Spool(options.output, {budgetBytes: options.diskBudgetBytes})
  const pool = options.scanThreads !== 0 && inventory.files.some((file) => file.format === 'jsonl') ? await ScanPool.start(options.scanThreads) : undefined
  try {
    for (const [index, batch] of batches.entries()) {
      if (batches.length > 1) progress(`Batch ${index + 1}/${batches.length}: ${batch.length} outputs`)
      const paths = new Map<FileFindings, string>()
      await forEachLimit(batch, 4, async (finding) => {
        paths.set(finding, await spool.path(finding.file.key, finding.file.size))
      })
      // One DuckDB per batch, able to read this batch's files and nothing else: users' checks run in it.
      const db = await openSandboxedDuckDB([...paths.values()], {memoryLimit: `${options.memoryLimitBytes}B`, threads: options.threads})
      const checksConnection = await db.instance.connect()
      try {
        await checkBatch(batch, paths, db, sqlRunner(checksConnection), {pool, validator}, options, {userRuns, duplicateExamples, duplicateErrors})
      } finally {
        checksConnection.closeSync()
        await db.close()
      }
      for (const finding of batch) await spool.release(paths.get(finding)!)
    }
  } finally {
    await pool?.close()
    await spool.close()
  }

  // File by file, in key order: the schema examples do not depend on which thread finished first.
  for (const finding of findings) if (finding.tally) validator?.merge(finding.tally)
  const rawCounts = options.raw ? await compareWithRaw(options, inventory.files, inventory.kind, progress) : undefined
  const result = assembleResult(options, {
    kind: inventory.kind,
    findings,
    orphans: inventory.orphanManifests,
    unbucketed: inventory.unbucketed,
    raw: rawCounts,
    userRuns,
    duplicateRun: {examples: duplicateExamples, errors: duplicateErrors},
    validator,
    started,
    batches: batches.length,
  })
  if (options.adopt) result.adoption = await adoptForeignOutputs(options.output, result, findings, rawCounts, options.adopt)
  return result
}

/** What the SQL checks found over all batches so far. */
interface SqlTotals {
  userRuns: Map<string, {rows: number; examples: Record<string, unknown>[]; errors: string[]}>
  duplicateExamples: Record<string, unknown>[]
  duplicateErrors: string[]
}

/** Reads one batch of (local or spooled) outputs and runs the SQL checks over it, adding to `totals`. */
async function checkBatch(
  batch: FileFindings[],
  paths: Map<FileFindings, string>,
  db: DuckDB,
  checksDb: SqlRunner,
  scan: {pool?: ScanPool; validator?: RecordValidator},
  options: VerifyOptions,
  totals: SqlTotals,
): Promise<void> {
  const progress = options.onProgress ?? (() => {})
  const {userRuns, duplicateExamples, duplicateErrors} = totals
  const reader = {db, ...scan}
  const files = (subset: FileFindings[]): DuckFile[] => subset.map((finding) => ({key: finding.file.key, path: paths.get(finding)!, format: finding.file.format}))
  // DuckDB's checks run on their own connection while the files are read here: both cores stay busy.
  const sqlWork = runSqlChecks(checksDb, files(batch), options).catch((error: Error) => sqlFailure(error, options))
  await forEachLimit(batch, scan.pool?.size ?? 2, async (finding) => {
    await readOutput(finding, paths.get(finding)!, options, reader)
    progress(`Read ${finding.file.key}: ${finding.records ?? 'unreadable'}${finding.error ? ` (${finding.error})` : ''}`)
  })
  let sql = await sqlWork
  // A broken file fails every query over it: check again without the files found unreadable.
  if (batch.some((finding) => finding.error)) sql = await runSqlChecks(checksDb, files(batch.filter((finding) => !finding.error)), options).catch((error: Error) => sqlFailure(error, options))
  const byPath = new Map(batch.map((finding) => [paths.get(finding)!, finding]))
  for (const [filePath, extra] of sql.duplicates?.extraByPath ?? []) {
    const finding = byPath.get(filePath)
    if (finding) finding.duplicates += extra
  }
  if (sql.duplicatesError) duplicateErrors.push(sql.duplicatesError)
  duplicateExamples.push(...(sql.duplicates?.examples ?? []).map((example) => ({...example, files: (example.files as string[]).map((file) => byPath.get(file)?.file.key ?? file)})))
  for (const check of options.checks) {
    const run = sql.userChecks.get(check.name)!
    const total = userRuns.get(check.name)!
    total.rows += run.rows
    if (run.error) total.errors.push(run.error)
    // Example rows name the output, not the local (possibly spooled) file DuckDB read.
    const named = run.examples.map((row) => (typeof row.filename === 'string' && byPath.has(row.filename) ? {...row, filename: byPath.get(row.filename)!.file.key} : row))
    total.examples.push(...named.slice(0, Math.max(0, 5 - total.examples.length)))
  }
}

/** What DuckDB found in one batch: duplicates (or why it could not look) and each user check's run. */
interface SqlFindings {
  duplicates?: DuplicateFindings
  duplicatesError?: string
  userChecks: Map<string, UserCheckRun>
}

/** Duplicates on the record key and the user's checks over one batch of files. */
async function runSqlChecks(db: SqlRunner, files: DuckFile[], options: VerifyOptions): Promise<SqlFindings> {
  const findings: SqlFindings = {userChecks: new Map()}
  await defineRecordsView(db, files)
  if (options.source.recordKey?.length && files.length > 0) {
    try {
      findings.duplicates = await findDuplicates(db, files, options.source.recordKey)
    } catch (error) {
      findings.duplicatesError = (error as Error).message
    }
  }
  for (const check of options.checks) findings.userChecks.set(check.name, await runUserCheck(db, check))
  return findings
}

/** Every SQL check failed with the same error (the view over the files could not be made). */
function sqlFailure(error: Error, options: VerifyOptions): SqlFindings {
  return {duplicatesError: error.message, userChecks: new Map(options.checks.map((check) => [check.name, {rows: 0, examples: [], error: error.message}]))}
}

/** Consecutive groups of outputs whose sizes fit the disk budget together (one group for local outputs). */
function batchBySize(findings: FileFindings[], budget: number): FileFindings[][] {
  const batches: FileFindings[][] = []
  let current: FileFindings[] = []
  let size = 0
  for (const finding of findings) {
    if (current.length > 0 && size + finding.file.size > budget) {
      batches.push(current)
      current = []
      size = 0
    }
    current.push(finding)
    size += finding.file.size
  }
  if (current.length > 0) batches.push(current)
  return batches
}

/** Scans on this thread (no pool), with a fork of the validator so the file has its own tally. */
async function scanHere(filePath: string, options: Omit<ScanOptions, 'validator'>, validator?: RecordValidator): Promise<{scan: FileScan; tally?: SchemaTally}> {
  const fork = validator?.fork()
  const scan = await scanJsonl(filePath, {...options, validator: fork})
  return {scan, tally: fork && {recordsChecked: fork.recordsChecked, recordsInvalid: fork.recordsInvalid, violations: fork.violations()}}
}

/** Reads one output to its end and compares it with its manifest. */
async function readOutput(finding: FileFindings, filePath: string, options: VerifyOptions, {db, pool, validator}: {db: DuckDB; pool?: ScanPool; validator?: RecordValidator}): Promise<void> {
  const {file} = finding
  if (file.format === 'parquet') {
    const connection = await db.instance.connect()
    const counted = await countParquet(sqlRunner(connection), filePath).finally(() => connection.closeSync())
    finding.records = counted.records
    if (counted.error) finding.error = `not a readable Parquet file (${counted.error})`
    else if (validator && options.schemaShare > 0) {
      const random = seededRandom(`${options.seed}:${file.key}`)
      const pick = () => options.schemaShare >= 1 || random() < options.schemaShare
      const fork = validator.fork()
      finding.invalid = (await validateParquet(db, filePath, (record, row) => fork.validate(record, `${file.key}:row ${row}`), pick)).invalid
      finding.tally = {recordsChecked: fork.recordsChecked, recordsInvalid: fork.recordsInvalid, violations: fork.violations()}
    }
  } else {
    const scanOptions = {compression: file.compression, schemaShare: options.schemaShare, seed: `${options.seed}:${file.key}`, label: file.key}
    const {scan, tally} = pool ? await pool.scan(filePath, scanOptions, validator ? options.source.schema : undefined) : await scanHere(filePath, scanOptions, validator)
    finding.tally = tally
    finding.scan = scan
    finding.invalid = scan.invalid
    if (scan.error) finding.error = scan.error
    else finding.records = scan.records
    if (scan.badLines > 0) finding.error = `${scan.badLines} line(s) are not JSON objects, first at line ${scan.firstBadLine!.line}: ${scan.firstBadLine!.message}`
  }
  if (finding.error) finding.problems.push(`${file.key}: ${finding.error}`)
  if (file.manifestUnreadable) finding.problems.push(`${file.key}: its manifest _manifests/${file.key}.json is not a readable manifest`)
  const manifest = file.manifest
  if (!manifest) return
  if (finding.records !== undefined && manifest.counts.records !== finding.records) {
    finding.problems.push(`${file.key} holds ${finding.records} records, its manifest says ${manifest.counts.records}`)
  }
  if (manifest.output.size !== file.size) finding.problems.push(`${file.key} is ${file.size} bytes, its manifest says ${manifest.output.size}`)
  const scan = finding.scan
  if (scan && !scan.error) {
    const sha256 = manifest.output.sha256
    const shaMatches = !sha256 || sha256 === scan.sha256 || sha256 === Buffer.from(scan.sha256, 'hex').toString('base64')
    if (!shaMatches || (manifest.output.md5 && manifest.output.md5 !== scan.md5)) finding.problems.push(`${file.key}: content differs from the checksum in its manifest`)
  }
}

async function compareWithRaw(options: VerifyOptions, files: OutputFile[], kind: OutputFile['bucket']['kind'] | undefined, progress: (message: string) => void): Promise<RawComparison | undefined> {
  if (!options.raw || !kind) return undefined
  progress(`Listing raw objects under ${options.raw.uri}`)
  const outputKeys = new Set(files.map((file) => file.key))
  const {excludesInput: exclude} = await locationOverlap(options.raw, options.output, {isOutput: (key) => outputKeys.has(key)})
  const listed = await listRawBuckets(options.raw, options.source, kind, (keys, done) => progress(done ? `Listed ${keys} raw objects` : `Listing raw objects: ${keys} so far`), exclude)
  const present = new Map(files.map((file) => [file.bucket.label, file.bucket]))
  const chosen = chooseSample(
    [...present.keys()].filter((label) => listed.has(label)),
    options.rawShare,
    options.seed,
  )
  const counted = new Map<string, RawBucketCount>()
  for (const label of [...chosen].sort()) {
    progress(`Re-reading the raw objects of ${label}`)
    counted.set(label, await countRawBucket(options.raw, options.source, present.get(label)!, {exclude}))
  }
  return {listed, counted, chosen}
}
