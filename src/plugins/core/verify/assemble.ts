import {shortened} from '../command/printable.js'
import type {RecordValidator} from '../schema/validator.js'
import {type BucketKind, type BucketSpan, nextBucket} from './buckets.js'
import {type Drop, findDrops, findGaps} from './continuity.js'
import type {OrphanManifest, OutputFile} from './outputs.js'
import type {RawBucketCount} from './raw.js'
import type {BucketResult, CheckResult, SchemaSummary, VerifyResult, VerifyWarning} from './result.js'
import type {FileScan} from './scan.js'
import type {SchemaTally} from './scan-pool.js'
import {plural} from './table.js'
import type {VerifyOptions} from './options.js'

/** Per-file findings, gathered while reading. */
export interface FileFindings {
  file: OutputFile
  scan?: FileScan
  records?: number
  error?: string
  duplicates: number
  /** Records that failed the schema, and the file's schema findings (merged into the run's in file order). */
  invalid: number
  tally?: SchemaTally
  problems: string[]
}

/** Per bucket label: raw objects listed, and decoded counts for the re-read sample. */
export interface RawComparison {
  listed: Map<string, {bucket: BucketSpan; objects: number}>
  counted: Map<string, RawBucketCount>
  chosen: Set<string>
}

/** Everything read, handed to {@link assembleResult}. */
export interface ReadFindings {
  kind?: BucketKind
  findings: FileFindings[]
  orphans: OrphanManifest[]
  /** Data files whose key names no time bucket (not read). */
  unbucketed: string[]
  raw?: RawComparison
  userRuns: Map<string, {rows: number; examples: Record<string, unknown>[]; errors: string[]}>
  duplicateRun: {examples: Record<string, unknown>[]; errors: string[]}
  validator?: RecordValidator
  started: number
  /** Batches the SQL checks ran in (more than one when S3 outputs exceed the disk budget). */
  batches: number
}

type BucketEntry = BucketResult & {start: number}
/** A missing bucket, or (without `span`) a lost output whose bucket cannot be told. */
type Missing = {span?: BucketSpan; label: string; reason: string; expectedKey: string}

/** What is missing, what had no data at all, and what could not be placed. */
interface MissingFindings {
  missing: Map<string, Missing>
  /** Buckets of gaps too long to list one by one (counted as missing only without `--raw`, which lists them). */
  unlisted: number
  /** Gaps where the raw side has no objects either (`--raw`): nothing to convert, nothing missing. */
  noData: Missing[]
  notYetConverted: string[]
  /** Manifests whose output is gone, in buckets that have other outputs. */
  orphanWarnings: VerifyWarning[]
}

const add = (value: number | undefined, to: number | undefined) => (value === undefined ? to : (to ?? 0) + value)

/**
 * The first `max` items and how many more: a check's summary is one line however many outputs or buckets failed
 * (each is named on its own line in the buckets, and listed whole in `details`).
 */
function firstFew(items: string[], max = 5, separator = '; '): string {
  return `${items.slice(0, max).join(separator)}${items.length > max ? `${separator}and ${items.length - max} more` : ''}`
}

function checkOf(name: string, failures: number, pass: string, fail: string, details: Record<string, unknown>): CheckResult {
  return {name, status: failures > 0 ? 'fail' : 'pass', summary: failures > 0 ? fail : pass, details}
}

/** The buckets by label, built up as findings are added. */
class BucketTable {
  readonly entries = new Map<string, BucketEntry>()

  entry(span: BucketSpan, output: string, status: BucketResult['status']): BucketEntry {
    let entry = this.entries.get(span.label)
    if (!entry) {
      entry = {key: span.label, output, from: span.start.toISOString(), to: span.end.toISOString(), status, rawChecked: false, problems: [], start: span.start.getTime()}
      this.entries.set(span.label, entry)
    }
    return entry
  }

  ordered(): BucketEntry[] {
    return [...this.entries.values()].sort((a, b) => a.start - b.start)
  }
}

function addFile(table: BucketTable, finding: FileFindings, options: VerifyOptions, validated: boolean): void {
  const entry = table.entry(finding.file.bucket, finding.file.key, 'ok')
  entry.bytes = (entry.bytes ?? 0) + finding.file.size
  entry.records = finding.error ? entry.records : add(finding.records, entry.records)
  entry.manifestRecords = add(finding.file.manifest?.counts.records, entry.manifestRecords)
  entry.quarantinedObjects = add(finding.file.manifest?.counts.quarantined, entry.quarantinedObjects)
  entry.duplicates = (entry.duplicates ?? 0) + finding.duplicates
  if (validated) entry.schemaInvalid = (entry.schemaInvalid ?? 0) + finding.invalid
  if (finding.invalid) entry.problems.push(`${finding.file.key}: ${finding.invalid} record(s) violate the ${options.source.name} schema`)
  entry.problems.push(...finding.problems)
  if (finding.duplicates > 0) entry.problems.push(`${finding.file.key}: ${finding.duplicates} duplicate record(s) on ${options.source.recordKey!.join(' + ')}`)
}

/**
 * Missing buckets: gaps between present ones, manifests whose output is gone, raw buckets never converted. With
 * `--raw`, a gap whose raw side holds no objects is "no data" rather than missing — unless the raw side is empty
 * altogether (a wrong `--raw` must not turn every gap into "no data").
 */
function findMissing(table: BucketTable, read: ReadFindings, now: Date): MissingFindings {
  const {findings, raw} = read
  const found: MissingFindings = {missing: new Map(), unlisted: 0, noData: [], notYetConverted: [], orphanWarnings: []}
  const {missing} = found
  // The key a missing bucket would have: its nearest neighbour's key with the label swapped.
  const expectedKey = (span: BucketSpan) => {
    const distance = (finding: FileFindings) => Math.abs(finding.file.bucket.start.getTime() - span.start.getTime())
    const near = findings.reduce<FileFindings | undefined>((best, finding) => (!best || distance(finding) < distance(best) ? finding : best), undefined)
    return near?.file.labelInKey ? near.file.key.replace(near.file.labelInKey, span.label) : span.label
  }
  const rawListsObjects = raw !== undefined && raw.listed.size > 0
  for (const gap of findGaps(findings.map((finding) => finding.file.bucket))) {
    const between = `no output between ${gap.after} and ${gap.before}`
    for (const span of gap.missing) {
      const listing = raw?.listed.get(span.label)
      if (rawListsObjects && !listing) found.noData.push({span, label: span.label, reason: '', expectedKey: expectedKey(span)})
      else missing.set(span.label, {span, label: span.label, reason: listing ? `${between}, ${listing.objects} raw object(s)` : between, expectedKey: expectedKey(span)})
    }
    // With --raw, the unlisted buckets that hold raw objects are found from the raw listing below.
    if (!rawListsObjects) found.unlisted += gap.unlisted
  }
  for (const orphan of read.orphans) {
    const reason = `its manifest ${orphan.manifestKey} exists${orphan.manifest ? '' : ' (not readable)'} but the output ${orphan.outputKey} is gone`
    if (orphan.bucket && table.entries.has(orphan.bucket.label)) {
      found.orphanWarnings.push({code: 'ORPHAN_MANIFEST', key: orphan.manifestKey, message: `${orphan.outputKey}: ${reason}; bucket ${orphan.bucket.label} has other outputs`})
    } else {
      const label = orphan.bucket?.label ?? orphan.outputKey
      missing.set(label, {span: orphan.bucket, label, reason, expectedKey: orphan.outputKey})
    }
  }
  for (const [label, listing] of raw?.listed ?? []) {
    if (table.entries.has(label) || missing.has(label)) continue
    // The current bucket is converted once it is over (convert skips it unless --include-current).
    if (listing.bucket.end > now) found.notYetConverted.push(label)
    else missing.set(label, {span: listing.bucket, label, reason: `${listing.objects} raw object(s) but no output`, expectedKey: expectedKey(listing.bucket)})
  }
  // A lost output's manifest outweighs an empty raw side: its bucket held data once.
  found.noData = found.noData.filter((entry) => !missing.has(entry.label))
  return found
}

/**
 * Labels as short runs — `2024-W03 to 2024-W09, 2024-W12 (its manifest … is gone)` — at most `max` of them: a
 * summary line stays one line however many buckets are listed (each has its own line in the buckets).
 */
function describeRuns(missing: Missing[], max = 5): string {
  const spans = missing.filter((entry) => entry.span).sort((a, b) => a.span!.start.getTime() - b.span!.start.getTime())
  const runs: Missing[][] = []
  for (const entry of spans) {
    const run = runs.at(-1)
    if (run && nextBucket(run.at(-1)!.span!).label === entry.label) run.push(entry)
    else runs.push([entry])
  }
  runs.push(...missing.filter((entry) => !entry.span).map((entry) => [entry]))
  const shown = runs.slice(0, max).map((run) => (run.length === 1 ? `${run[0]!.label}${run[0]!.reason ? ` (${run[0]!.reason})` : ''}` : `${run[0]!.label} to ${run.at(-1)!.label} (${run.length})`))
  const rest = runs.slice(max).reduce((sum, run) => sum + run.length, 0)
  return `${shown.join(', ')}${rest > 0 ? `, and ${rest} more` : ''}`
}

/** What could not be checked: outputs without a manifest, data files outside any bucket, stray manifests. */
function collectWarnings(read: ReadFindings, orphanWarnings: VerifyWarning[]): VerifyWarning[] {
  const warnings: VerifyWarning[] = []
  for (const {file} of read.findings) {
    if (file.interrupted)
      warnings.push({
        code: 'NO_MANIFEST',
        key: file.key,
        message: `${file.key} has no manifest: a convert run wrote it and stopped before its manifest (_manifests/${file.key}.json is a pending marker); run convert again to finish it. Its record count and checksums were not checked`,
      })
    else if (!file.manifest && !file.manifestUnreadable)
      warnings.push({code: 'NO_MANIFEST', key: file.key, message: `${file.key} has no manifest (_manifests/${file.key}.json): its record count and checksums were not checked`})
  }
  for (const key of read.unbucketed) warnings.push({code: 'NOT_A_BUCKET', key, message: `${key} names no time bucket (such as 2024-W03 or 2024-01-15): not verified`})
  return [...warnings, ...orphanWarnings]
}

/** Compares present buckets with the raw listing (object counts) and the re-read sample (record counts). */
function compareRaw(present: BucketEntry[], read: ReadFindings): string[] {
  const {raw} = read
  if (!raw) return []
  const failures = new Set<string>()
  for (const entry of present) {
    entry.rawObjects = raw.listed.get(entry.key)?.objects ?? 0
    const manifestObjects = read.findings.filter((finding) => finding.file.bucket.label === entry.key).reduce<number | undefined>((sum, finding) => add(finding.file.manifest?.counts.objects, sum), undefined)
    if (manifestObjects !== undefined && manifestObjects !== entry.rawObjects) {
      entry.problems.push(`${entry.key}: ${entry.rawObjects} raw objects now, the manifest lists ${manifestObjects} (objects added or removed since convert)`)
      failures.add(entry.key)
    }
    const counted = raw.counted.get(entry.key)
    if (!counted) continue
    entry.rawChecked = true
    entry.rawRecords = counted.records
    if (entry.records !== undefined && entry.records !== counted.records) {
      const undecodable = counted.undecodable.length ? ` (${counted.undecodable.length} undecodable)` : ''
      entry.problems.push(`${entry.key}: ${entry.records} records in the output, ${counted.records} decoded from ${counted.objects} raw objects${undecodable}`)
      failures.add(entry.key)
    }
  }
  return [...failures]
}

/** The checks, in their fixed order. */
function buildChecks(options: VerifyOptions, read: ReadFindings, table: BucketTable, found: MissingFindings & {rawFailures: string[]; drops: Drop[]; schema: SchemaSummary; present: number}): CheckResult[] {
  const {findings, raw, duplicateRun, validator} = read
  const {missing, rawFailures, drops, schema} = found
  const kinds = (count: number) => plural(count, read.kind ?? 'bucket')
  const missingCount = missing.size + found.unlisted
  const noData = found.noData.length > 0 ? `; ${kinds(found.noData.length)} without data (no output, no raw objects): ${describeRuns(found.noData)}` : ''
  // Duplicates and SQL checks see one batch of outputs at a time when S3 outputs exceed the disk budget.
  const scope = read.batches === 1 ? 'all outputs at once' : `${read.batches} batches of outputs that fit the disk budget, one at a time`
  const recordKey = options.source.recordKey ?? []
  const ordered = table.ordered()
  const integrityFailures = findings.filter((finding) => finding.error)
  const manifestProblems = (finding: FileFindings) => finding.problems.filter((problem) => /manifest/.test(problem))
  const manifestFailures = findings.filter((finding) => manifestProblems(finding).length > 0)
  const unmanifested = findings.filter((finding) => !finding.file.manifest && !finding.file.manifestUnreadable).map((finding) => finding.file.key)
  const duplicateTotal = findings.reduce((sum, finding) => sum + finding.duplicates, 0)
  const badLines = findings.reduce((sum, finding) => sum + (finding.scan?.badLines ?? 0), 0)
  const rawProblems = (label: string) => table.entries.get(label)!.problems.filter((problem) => problem.startsWith(`${label}:`) && /raw/.test(problem))
  return [
    checkOf(
      'integrity',
      integrityFailures.length,
      `${findings.length} outputs read to the end`,
      `${integrityFailures.length} output(s) unreadable: ${firstFew(integrityFailures.map((finding) => `${finding.file.key} (${finding.error})`))}`,
      {
        files: findings.length,
        failed: integrityFailures.map((finding) => ({key: finding.file.key, error: finding.error, recordsBeforeError: finding.scan?.records})),
      },
    ),
    unmanifested.length === findings.length
      ? {name: 'manifest-counts', status: 'skip', summary: 'no manifests under _manifests/', details: {withoutManifest: unmanifested}}
      : checkOf('manifest-counts', manifestFailures.length, `${findings.length - unmanifested.length} outputs match their manifests`, firstFew(manifestFailures.flatMap(manifestProblems)), {
          mismatched: manifestFailures.map((finding) => ({key: finding.file.key, records: finding.records, manifestRecords: finding.file.manifest?.counts.records, problems: manifestProblems(finding)})),
          withoutManifest: unmanifested,
        }),
    raw
      ? checkOf('raw-counts', rawFailures.length, `${kinds(raw.counted.size)} re-read from raw match (${raw.chosen.size}/${found.present} chosen, seed ${options.seed})`, firstFew(rawFailures.flatMap(rawProblems)), {
          bucketsReRead: [...raw.counted.keys()].sort(),
          share: options.rawShare,
          seed: options.seed,
          mismatched: rawFailures.map((label) => {
            const entry = table.entries.get(label)!
            return {bucket: label, records: entry.records, rawRecords: entry.rawRecords, rawObjects: entry.rawObjects, undecodable: raw.counted.get(label)?.undecodable ?? []}
          }),
          notYetConverted: found.notYetConverted,
        })
      : {name: 'raw-counts', status: 'skip', summary: 'no --raw location given', details: {}},
    checkOf(
      'missing-buckets',
      missingCount,
      `${read.kind ? `no ${read.kind} missing between ${ordered.find((entry) => entry.status !== 'no-data')?.key} and ${ordered.findLast((entry) => entry.status !== 'no-data')?.key}` : 'no buckets missing'}${noData}`,
      `${kinds(missingCount)} missing: ${describeRuns([...missing.values()])}${found.unlisted > 0 ? ` (${found.unlisted} of them in gaps too long to list)` : ''}${noData}`,
      {
        missing: [...missing.values()].map(({span, label, reason, expectedKey}) => ({bucket: span?.label, ...(span ? {} : {output: label}), expectedKey, reason})),
        unlisted: found.unlisted,
        noData: found.noData.map((entry) => entry.label),
      },
    ),
    checkOf(
      'drops',
      drops.length,
      `no bucket below ${Math.round(options.dropThreshold * 100)}% of its neighbours`,
      `${drops.length} sudden drop(s): ${firstFew(drops.map((drop) => `${drop.label} has ${drop.records} records vs a median of ${drop.neighbourMedian}`))}`,
      {
        threshold: options.dropThreshold,
        window: options.dropWindow,
        drops,
      },
    ),
    recordKey.length === 0
      ? {name: 'duplicates', status: 'skip', summary: `source ${options.source.name} declares no record key`, details: {}}
      : duplicateRun.errors.length > 0
        ? {name: 'duplicates', status: 'fail', summary: `the duplicates query failed: ${oneLine(duplicateRun.errors[0]!.split('\n\n')[0]!)}`, details: {recordKey, scope, error: duplicateRun.errors[0]}}
        : checkOf(
            'duplicates',
            duplicateTotal,
            `no duplicates on ${recordKey.join(' + ')}`,
            `${duplicateTotal} duplicate record(s) on ${recordKey.join(' + ')} in ${firstFew(
              findings.filter((finding) => finding.duplicates > 0).map((finding) => finding.file.key),
              5,
              ', ',
            )}`,
            {
              recordKey,
              scope,
              duplicates: duplicateTotal,
              byOutput: Object.fromEntries(findings.filter((finding) => finding.duplicates > 0).map((finding) => [finding.file.key, finding.duplicates])),
              examples: duplicateRun.examples.slice(0, 5),
            },
          ),
    validator
      ? checkOf(
          'schema',
          schema.recordsInvalid + badLines,
          `${schema.recordsChecked} records valid against the ${options.source.name} schema`,
          `${schema.recordsInvalid} of ${schema.recordsChecked} records violate the schema: ${schema.violations
            .slice(0, 5)
            .map((violation) => `${violation.path} ${violation.message} (${violation.count}×, e.g. ${JSON.stringify(violation.example.value)} at ${violation.example.where})`)
            .join('; ')}`,
          {...schema, share: options.schemaShare},
        )
      : {name: 'schema', status: 'skip', summary: options.source.schema ? 'schema check turned off (--schema-sample 0)' : `source ${options.source.name} has no JSON Schema`, details: {}},
    ...[...read.userRuns].map(([name, run]): CheckResult => {
      const check = options.checks.find((candidate) => candidate.name === name)!
      // DuckDB's message, without the excerpt of the (wrapped) query it quotes after a blank line; whole in details.
      if (run.errors.length > 0) return {name: `sql:${name}`, status: 'fail', summary: `the query failed: ${oneLine(run.errors[0]!.split('\n\n')[0]!)}`, details: {sql: check.sql, error: run.errors[0]}}
      return checkOf(`sql:${name}`, run.rows, 'returned no rows', `returned ${run.rows} row(s), e.g. ${shortened(JSON.stringify(run.examples[0]) ?? '', 200)}`, {
        sql: check.sql,
        scope,
        rows: run.rows,
        examples: run.examples,
      })
    }),
  ]
}

/** A DuckDB message as one line (a summary is one line: a table cell, a log line); the whole is in `details`. */
const oneLine = (message: string) =>
  message
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .join(' ')

/**
 * Turns what was read into the result: one entry per bucket (missing ones included), the checks in their fixed
 * order, the schema summary and the totals.
 */
export function assembleResult(options: VerifyOptions, read: ReadFindings): VerifyResult {
  const {findings, validator} = read
  const table = new BucketTable()
  for (const finding of findings) addFile(table, finding, options, Boolean(validator))
  const present = [...table.entries.values()]
  const found = findMissing(table, read, options.now ?? new Date())
  for (const {span, reason, expectedKey} of found.missing.values()) if (span) table.entry(span, expectedKey, 'missing').problems.push(`${span.label}: missing, ${reason}`)
  for (const {span, expectedKey} of found.noData) table.entry(span!, expectedKey, 'no-data').rawObjects = 0
  const rawFailures = compareRaw(present, read)
  // Drops are judged on the buckets read completely.
  const drops = findDrops(
    table
      .ordered()
      .filter((entry) => entry.status === 'ok' && entry.records !== undefined)
      .map((entry) => ({label: entry.key, records: entry.records!})),
    {threshold: options.dropThreshold, window: options.dropWindow},
  )
  for (const drop of drops) table.entries.get(drop.label)!.problems.push(`${drop.label}: ${drop.records} records, ${Math.round(drop.ratio * 100)}% of its neighbours' median ${drop.neighbourMedian}`)
  const schema: SchemaSummary = {recordsChecked: validator?.recordsChecked ?? 0, recordsInvalid: validator?.recordsInvalid ?? 0, violations: validator?.violations() ?? []}
  const checks = buildChecks(options, read, table, {...found, rawFailures, drops, schema, present: present.length})
  const warnings = collectWarnings(read, found.orphanWarnings)

  for (const entry of table.entries.values()) if (entry.status === 'ok' && entry.problems.length > 0) entry.status = 'failed'
  const buckets: BucketResult[] = table.ordered().map(({start: _start, ...entry}) => entry)
  return {
    resultVersion: 1,
    mode: 'verify',
    ok: checks.every((check) => check.status !== 'fail'),
    output: options.output.uri,
    raw: options.raw?.uri,
    source: options.source.name,
    bucketKind: read.kind,
    checks,
    buckets,
    schema,
    warnings,
    totals: {
      buckets: buckets.length,
      // Lost outputs whose bucket cannot be told, and buckets of gaps too long to list, are missing all the same.
      missing: found.missing.size + found.unlisted,
      noData: found.noData.length,
      failed: buckets.filter((entry) => entry.status === 'failed').length,
      files: findings.length,
      records: findings.reduce((sum, finding) => sum + (finding.records ?? 0), 0),
      bytes: findings.reduce((sum, finding) => sum + finding.file.size, 0),
      rawObjectsRead: [...(read.raw?.counted.values() ?? [])].reduce((sum, counted) => sum + counted.objects, 0),
      warnings: warnings.length,
      seconds: Math.round((Date.now() - read.started) / 10) / 100,
    },
  }
}
