import {openDuckDB} from '../duckdb/duckdb.js'
import {Spool} from '../duckdb/spool.js'
import {UserError} from '../errors/errors.js'
import {RecordValidator} from '../schema/validator.js'
import type {DataSource} from '../sources/types.js'
import {LocalStorage} from '../storage/local.js'
import type {Storage} from '../storage/types.js'
import {type BucketSpan} from './buckets.js'
import {findDrops, findGaps} from './continuity.js'
import {forEachLimit, inventoryOutputs, type OrphanManifest, type OutputFile} from './outputs.js'
import {countRawBucket, listRawBuckets, type RawBucketCount} from './raw.js'
import type {BucketResult, CheckResult, VerifyResult} from './result.js'
import {chooseSample, seededRandom} from './sample.js'
import {type FileScan, scanJsonl} from './scan.js'
import {countParquet, defineRecordsView, type DuckFile, type DuplicateFindings, findDuplicates, runUserCheck, type SqlRunner, sqlRunner, type UserCheck, type UserCheckRun, validateParquet} from './sql-checks.js'

/** Options of {@link verifyDataset}; every threshold is a flag of `bucketwright verify`. */
export interface VerifyOptions {
  output: Storage
  /** The raw objects to compare counts against (`--raw`). */
  raw?: Storage
  source: DataSource
  /** Share of buckets whose raw objects are re-read and decoded (1 = all). */
  rawShare: number
  /** Share of records validated against the source's schema (1 = all, 0 = none). */
  schemaShare: number
  /** Seed of the bucket and record samples: the same seed picks the same buckets and records. */
  seed: string
  /** A bucket below `dropThreshold` × the median of its `dropWindow` neighbours on each side is a drop. */
  dropThreshold: number
  dropWindow: number
  checks: UserCheck[]
  /** DuckDB memory limit (`--memory-limit`), e.g. `512MB`. */
  memoryLimit: string
  threads?: number
  /** Disk budget for S3 outputs spooled for DuckDB; checks run over batches of buckets that fit. */
  diskBudgetBytes: number
  /** Buckets ending after this time are still being filled: not missing when absent. Default: now. */
  now?: Date
  onProgress?: (message: string) => void
}

/** Per-file findings, gathered while reading. */
interface FileFindings {
  file: OutputFile
  scan?: FileScan
  records?: number
  error?: string
  duplicates: number
  /** Records that failed the schema. */
  invalid: number
  problems: string[]
}

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
  const inventory = await inventoryOutputs(options.output)
  if (inventory.files.length === 0 && inventory.orphanManifests.length === 0) {
    throw new UserError(`No outputs found under ${options.output.uri}.`, {
      code: 'NO_OUTPUTS',
      nextSteps: ['Check the output location (the one given to convert), e.g. s3://bucket/v2/.', 'Outputs are files such as 2024-W03.jsonl.gz or *.parquet, with manifests under _manifests/.'],
    })
  }
  progress(`Verifying ${inventory.files.length} outputs under ${options.output.uri}`)
  const validator = source.schema && options.schemaShare > 0 ? await RecordValidator.create(source.schema) : undefined
  const findings = inventory.files.map((file): FileFindings => ({file, duplicates: 0, invalid: 0, problems: []}))
  const userRuns = new Map(options.checks.map((check) => [check.name, {rows: 0, examples: [] as Record<string, unknown>[], errors: [] as string[]}]))
  const duplicateExamples: Record<string, unknown>[] = []
  const duplicateErrors: string[] = []
  const batches = batchBySize(findings, options.output instanceof LocalStorage ? Number.POSITIVE_INFINITY : options.diskBudgetBytes)

  const db = await openDuckDB({memoryLimit: options.memoryLimit, threads: options.threads})
  const checksConnection = await db.instance.connect()
  const checksDb = sqlRunner(checksConnection)
  const spool = new Spool(options.output, {budgetBytes: options.diskBudgetBytes})
  try {
    for (const [index, batch] of batches.entries()) {
      if (batches.length > 1) progress(`Batch ${index + 1}/${batches.length}: ${batch.length} outputs`)
      const paths = new Map<FileFindings, string>()
      await forEachLimit(batch, 4, async (finding) => {
        paths.set(finding, await spool.path(finding.file.key, finding.file.size))
      })
      const files = (subset: FileFindings[]): DuckFile[] => subset.map((finding) => ({key: finding.file.key, path: paths.get(finding)!, format: finding.file.format}))
      // DuckDB's checks run on their own connection while the files are read here: both cores stay busy.
      const sqlWork = runSqlChecks(checksDb, files(batch), options).catch((error: Error) => sqlFailure(error, options))
      await forEachLimit(batch, 2, async (finding) => {
        await readOutput(finding, paths.get(finding)!, options, validator, db)
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
        total.examples.push(...run.examples.slice(0, Math.max(0, 5 - total.examples.length)))
      }
      for (const finding of batch) await spool.release(paths.get(finding)!)
    }
  } finally {
    checksConnection.closeSync()
    await spool.close()
    await db.close()
  }

  const rawCounts = options.raw ? await compareWithRaw(options, inventory.files, inventory.kind, progress) : undefined
  return assemble(options, inventory.kind, findings, inventory.orphanManifests, rawCounts, userRuns, {examples: duplicateExamples, errors: duplicateErrors}, validator, started, batches.length)
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

/** Reads one output to its end and compares it with its manifest. */
async function readOutput(finding: FileFindings, filePath: string, options: VerifyOptions, validator: RecordValidator | undefined, db: Awaited<ReturnType<typeof openDuckDB>>): Promise<void> {
  const {file} = finding
  if (file.format === 'parquet') {
    const connection = await db.instance.connect()
    const counted = await countParquet(sqlRunner(connection), filePath).finally(() => connection.closeSync())
    finding.records = counted.records
    if (counted.error) finding.error = `not a readable Parquet file (${counted.error})`
    else if (validator && options.schemaShare > 0) {
      const random = seededRandom(`${options.seed}:${file.key}`)
      const pick = () => options.schemaShare >= 1 || random() < options.schemaShare
      finding.invalid = (await validateParquet(db, filePath, (record, row) => validator.validate(record, `${file.key}:row ${row}`), pick)).invalid
    }
  } else {
    const scan = await scanJsonl(filePath, {compression: file.compression, schemaShare: options.schemaShare, validator, seed: `${options.seed}:${file.key}`, label: file.key})
    finding.scan = scan
    finding.invalid = scan.invalid
    if (scan.error) finding.error = scan.error
    else finding.records = scan.records
    if (scan.badLines > 0) finding.error = `${scan.badLines} line(s) are not JSON objects, first at line ${scan.firstBadLine!.line}: ${scan.firstBadLine!.message}`
  }
  if (finding.error) finding.problems.push(`${file.key}: ${finding.error}`)
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

/** Per bucket label: raw objects listed, and decoded counts for the re-read sample. */
interface RawComparison {
  listed: Map<string, {bucket: BucketSpan; objects: number}>
  counted: Map<string, RawBucketCount>
  chosen: Set<string>
}

async function compareWithRaw(options: VerifyOptions, files: OutputFile[], kind: OutputFile['bucket']['kind'] | undefined, progress: (message: string) => void): Promise<RawComparison | undefined> {
  if (!options.raw || !kind) return undefined
  progress(`Listing raw objects under ${options.raw.uri}`)
  const listed = await listRawBuckets(options.raw, options.source, kind, (keys) => progress(`Listed ${keys} raw objects`))
  const present = new Map(files.map((file) => [file.bucket.label, file.bucket]))
  const chosen = chooseSample([...present.keys()].filter((label) => listed.has(label)), options.rawShare, options.seed)
  const counted = new Map<string, RawBucketCount>()
  for (const label of [...chosen].sort()) {
    progress(`Re-reading the raw objects of ${label}`)
    counted.set(label, await countRawBucket(options.raw, options.source, present.get(label)!))
  }
  return {listed, counted, chosen}
}

function checkOf(name: string, failures: number, pass: string, fail: string, details: Record<string, unknown>): CheckResult {
  return {name, status: failures > 0 ? 'fail' : 'pass', summary: failures > 0 ? fail : pass, details}
}

function assemble(
  options: VerifyOptions,
  kind: OutputFile['bucket']['kind'] | undefined,
  findings: FileFindings[],
  orphans: OrphanManifest[],
  raw: RawComparison | undefined,
  userRuns: Map<string, {rows: number; examples: Record<string, unknown>[]; errors: string[]}>,
  duplicateRun: {examples: Record<string, unknown>[]; errors: string[]},
  validator: RecordValidator | undefined,
  started: number,
  batches: number,
): VerifyResult {
  // Duplicates and SQL checks see one batch of outputs at a time when S3 outputs exceed the disk budget.
  const scope = batches === 1 ? 'all outputs at once' : `${batches} batches of outputs that fit the disk budget, one at a time`
  const now = options.now ?? new Date()
  const buckets = new Map<string, BucketResult & {start: number}>()
  const bucketFor = (span: BucketSpan, output: string, status: BucketResult['status']) => {
    let entry = buckets.get(span.label)
    if (!entry) {
      entry = {key: span.label, output, from: span.start.toISOString(), to: span.end.toISOString(), status, rawChecked: false, problems: [], start: span.start.getTime()}
      buckets.set(span.label, entry)
    }
    return entry
  }
  const add = (value: number | undefined, to: number | undefined) => (value === undefined ? to : (to ?? 0) + value)

  for (const finding of findings) {
    const entry = bucketFor(finding.file.bucket, finding.file.key, 'ok')
    entry.bytes = (entry.bytes ?? 0) + finding.file.size
    entry.records = finding.error ? entry.records : add(finding.records, entry.records)
    entry.manifestRecords = add(finding.file.manifest?.counts.records, entry.manifestRecords)
    entry.quarantinedObjects = add(finding.file.manifest?.counts.quarantined, entry.quarantinedObjects)
    entry.duplicates = (entry.duplicates ?? 0) + finding.duplicates
    if (validator) entry.schemaInvalid = (entry.schemaInvalid ?? 0) + finding.invalid
    if (finding.invalid) entry.problems.push(`${finding.file.key}: ${finding.invalid} record(s) violate the ${options.source.name} schema`)
    entry.problems.push(...finding.problems)
    if (finding.duplicates > 0) entry.problems.push(`${finding.file.key}: ${finding.duplicates} duplicate record(s) on ${options.source.recordKey!.join(' + ')}`)
  }
  const integrityFailures = findings.filter((finding) => finding.error)
  const manifestFailures = findings.filter((finding) => finding.problems.some((problem) => /manifest/.test(problem)))
  const unmanifested = findings.filter((finding) => !finding.file.manifest).map((finding) => finding.file.key)

  // Missing buckets: gaps between present ones, manifests whose output is gone, raw buckets never converted.
  const missing = new Map<string, {span: BucketSpan; reason: string; expectedKey: string}>()
  const present = [...buckets.values()]
  const neighbourKey = (span: BucketSpan) => {
    const near = findings.reduce((best, finding) => (Math.abs(finding.file.bucket.start.getTime() - span.start.getTime()) < Math.abs(best.file.bucket.start.getTime() - span.start.getTime()) ? finding : best), findings[0]!)
    return near?.file.labelInKey ? near.file.key.replace(near.file.labelInKey, span.label) : span.label
  }
  for (const gap of findGaps(findings.map((finding) => finding.file.bucket))) {
    for (const span of gap.missing) missing.set(span.label, {span, reason: `missing between ${gap.after} and ${gap.before}`, expectedKey: neighbourKey(span)})
  }
  for (const orphan of orphans) {
    if (!orphan.bucket || buckets.has(orphan.bucket.label)) continue
    missing.set(orphan.bucket.label, {span: orphan.bucket, reason: `its manifest ${orphan.manifestKey} exists but the output ${orphan.manifest.output.key} is gone`, expectedKey: orphan.manifest.output.key})
  }
  const notYetConverted: string[] = []
  for (const [label, listing] of raw?.listed ?? []) {
    if (buckets.has(label) || missing.has(label)) continue
    if (listing.bucket.end > now) {
      notYetConverted.push(label)
      continue
    }
    missing.set(label, {span: listing.bucket, reason: `${listing.objects} raw object(s) but no output`, expectedKey: neighbourKey(listing.bucket)})
  }
  for (const {span, reason, expectedKey} of missing.values()) bucketFor(span, expectedKey, 'missing').problems.push(`${span.label} is missing: ${reason}`)

  // Raw comparison.
  const rawFailures: string[] = []
  for (const entry of present) {
    const listing = raw?.listed.get(entry.key)
    if (!raw) break
    entry.rawObjects = listing?.objects ?? 0
    const counted = raw.counted.get(entry.key)
    const manifestObjects = findings.filter((finding) => finding.file.bucket.label === entry.key).reduce<number | undefined>((sum, finding) => add(finding.file.manifest?.counts.objects, sum), undefined)
    if (manifestObjects !== undefined && manifestObjects !== entry.rawObjects) {
      entry.problems.push(`${entry.key}: ${entry.rawObjects} raw objects now, the manifest lists ${manifestObjects} (objects added or removed since convert)`)
      rawFailures.push(entry.key)
    }
    if (!counted) continue
    entry.rawChecked = true
    entry.rawRecords = counted.records
    if (entry.records !== undefined && entry.records !== counted.records) {
      entry.problems.push(`${entry.key}: ${entry.records} records in the output, ${counted.records} decoded from ${counted.objects} raw objects${counted.undecodable.length ? ` (${counted.undecodable.length} undecodable)` : ''}`)
      if (!rawFailures.includes(entry.key)) rawFailures.push(entry.key)
    }
  }

  // Drops: judged on the buckets read completely.
  const ordered = [...buckets.values()].sort((a, b) => a.start - b.start)
  const drops = findDrops(ordered.filter((entry) => entry.status !== 'missing' && entry.records !== undefined).map((entry) => ({label: entry.key, records: entry.records!})), {threshold: options.dropThreshold, window: options.dropWindow})
  for (const drop of drops) buckets.get(drop.label)!.problems.push(`${drop.label}: ${drop.records} records, ${Math.round(drop.ratio * 100)}% of its neighbours' median ${drop.neighbourMedian}`)

  const duplicateTotal = findings.reduce((sum, finding) => sum + finding.duplicates, 0)
  const badLines = findings.reduce((sum, finding) => sum + (finding.scan?.badLines ?? 0), 0)
  const schema = {recordsChecked: validator?.recordsChecked ?? 0, recordsInvalid: validator?.recordsInvalid ?? 0, violations: validator?.violations() ?? []}
  const checks: CheckResult[] = [
    checkOf('integrity', integrityFailures.length, `${findings.length} outputs read to the end`, `${integrityFailures.length} output(s) unreadable: ${integrityFailures.map((finding) => `${finding.file.key} (${finding.error})`).join('; ')}`, {
      files: findings.length,
      failed: integrityFailures.map((finding) => ({key: finding.file.key, error: finding.error, recordsBeforeError: finding.scan?.records})),
    }),
    unmanifested.length === findings.length
      ? {name: 'manifest-counts', status: 'skip', summary: 'no manifests under _manifests/', details: {withoutManifest: unmanifested}}
      : checkOf('manifest-counts', manifestFailures.length, `${findings.length - unmanifested.length} outputs match their manifests`, manifestFailures.flatMap((finding) => finding.problems.filter((problem) => /manifest/.test(problem))).join('; '), {
          mismatched: manifestFailures.map((finding) => ({key: finding.file.key, records: finding.records, manifestRecords: finding.file.manifest?.counts.records, problems: finding.problems})),
          withoutManifest: unmanifested,
        }),
    raw
      ? checkOf('raw-counts', rawFailures.length, `${raw.counted.size} bucket(s) re-read from raw match (${raw.chosen.size}/${present.length} chosen, seed ${options.seed})`, rawFailures.map((label) => buckets.get(label)!.problems.filter((problem) => problem.startsWith(`${label}:`) && /raw/.test(problem)).join('; ')).join('; '), {
          bucketsReRead: [...raw.counted.keys()].sort(),
          share: options.rawShare,
          seed: options.seed,
          mismatched: rawFailures.map((label) => ({bucket: label, records: buckets.get(label)!.records, rawRecords: buckets.get(label)!.rawRecords, rawObjects: buckets.get(label)!.rawObjects, undecodable: raw.counted.get(label)?.undecodable ?? []})),
          notYetConverted,
        })
      : {name: 'raw-counts', status: 'skip', summary: 'no --raw location given', details: {}},
    checkOf('missing-buckets', missing.size, kind ? `no ${kind} missing between ${ordered[0]?.key} and ${ordered.at(-1)?.key}` : 'no buckets missing', `${missing.size} bucket(s) missing: ${[...missing.values()].map(({span, reason}) => `${span.label} (${reason})`).join('; ')}`, {
      missing: [...missing.values()].map(({span, reason, expectedKey}) => ({bucket: span.label, expectedKey, reason})),
    }),
    checkOf('drops', drops.length, `no bucket below ${Math.round(options.dropThreshold * 100)}% of its neighbours`, `${drops.length} sudden drop(s): ${drops.map((drop) => `${drop.label} has ${drop.records} records vs a median of ${drop.neighbourMedian}`).join('; ')}`, {
      threshold: options.dropThreshold,
      window: options.dropWindow,
      drops,
    }),
    options.source.recordKey?.length && duplicateRun.errors.length > 0
      ? {name: 'duplicates', status: 'fail', summary: `the duplicates query failed: ${duplicateRun.errors[0]}`, details: {recordKey: options.source.recordKey, scope, error: duplicateRun.errors[0]}}
      : options.source.recordKey?.length
      ? checkOf('duplicates', duplicateTotal, `no duplicates on ${options.source.recordKey.join(' + ')}`, `${duplicateTotal} duplicate record(s) on ${options.source.recordKey.join(' + ')} in ${findings.filter((finding) => finding.duplicates > 0).map((finding) => finding.file.key).join(', ')}`, {
          recordKey: options.source.recordKey,
          scope,
          duplicates: duplicateTotal,
          byOutput: Object.fromEntries(findings.filter((finding) => finding.duplicates > 0).map((finding) => [finding.file.key, finding.duplicates])),
          examples: duplicateRun.examples.slice(0, 5),
        })
      : {name: 'duplicates', status: 'skip', summary: `source ${options.source.name} declares no record key`, details: {}},
    validator
      ? checkOf('schema', schema.recordsInvalid + badLines, `${schema.recordsChecked} records valid against the ${options.source.name} schema`, `${schema.recordsInvalid} of ${schema.recordsChecked} records violate the schema: ${schema.violations.slice(0, 5).map((violation) => `${violation.path} ${violation.message} (${violation.count}×, e.g. ${JSON.stringify(violation.example.value)} at ${violation.example.where})`).join('; ')}`, {...schema, share: options.schemaShare})
      : {name: 'schema', status: 'skip', summary: options.source.schema ? 'schema check turned off (--schema-sample 0)' : `source ${options.source.name} has no JSON Schema`, details: {}},
    ...[...userRuns].map(([name, run]): CheckResult => {
      const check = options.checks.find((candidate) => candidate.name === name)!
      if (run.errors.length > 0) return {name: `sql:${name}`, status: 'fail', summary: `the query failed: ${run.errors[0]}`, details: {sql: check.sql, error: run.errors[0]}}
      return checkOf(`sql:${name}`, run.rows, 'returned no rows', `returned ${run.rows} row(s), e.g. ${JSON.stringify(run.examples[0])}`, {sql: check.sql, scope, rows: run.rows, examples: run.examples})
    }),
  ]

  for (const entry of buckets.values()) if (entry.status !== 'missing' && entry.problems.length > 0) entry.status = 'failed'
  const bucketList: BucketResult[] = ordered.map(({start: _start, ...entry}) => entry)
  const failedChecks = checks.filter((check) => check.status === 'fail')
  return {
    mode: 'verify',
    ok: failedChecks.length === 0,
    output: options.output.uri,
    raw: options.raw?.uri,
    source: options.source.name,
    bucketKind: kind,
    checks,
    buckets: bucketList,
    schema,
    totals: {
      buckets: bucketList.length,
      missing: bucketList.filter((entry) => entry.status === 'missing').length,
      failed: bucketList.filter((entry) => entry.status === 'failed').length,
      files: findings.length,
      records: findings.reduce((sum, finding) => sum + (finding.records ?? 0), 0),
      bytes: findings.reduce((sum, finding) => sum + finding.file.size, 0),
      rawObjectsRead: [...(raw?.counted.values() ?? [])].reduce((sum, counted) => sum + counted.objects, 0),
      seconds: Math.round((Date.now() - started) / 10) / 100,
    },
  }
}
