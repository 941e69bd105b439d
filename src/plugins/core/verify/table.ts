import type {AthenaDdlResult, VerifyResult} from './result.js'

const number = (value: number | undefined) => (value === undefined ? '-' : value.toLocaleString('en-US'))

function columns(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd())
}

/** The verify result as text for a terminal: checks, then buckets with problems (all buckets with `all`). */
export function formatVerifyTable(result: VerifyResult, options: {allBuckets?: boolean} = {}): string {
  const lines: string[] = []
  lines.push(...columns([['STATUS', 'CHECK', 'RESULT'], ...result.checks.map((check) => [check.status.toUpperCase(), check.name, check.summary])]))
  const shown = options.allBuckets ? result.buckets : result.buckets.filter((bucket) => bucket.status !== 'ok')
  if (shown.length > 0) {
    lines.push('')
    lines.push(
      ...columns([
        ['BUCKET', 'STATUS', 'RECORDS', 'MANIFEST', 'RAW', 'OUTPUT'],
        ...shown.map((bucket) => [bucket.key, bucket.status, number(bucket.records), number(bucket.manifestRecords), bucket.rawChecked ? number(bucket.rawRecords) : '-', bucket.output]),
      ]),
    )
    for (const bucket of shown) for (const problem of bucket.problems) lines.push(`  ${bucket.key}: ${problem.startsWith(`${bucket.key}:`) ? problem.slice(bucket.key.length + 2) : problem}`)
  }
  lines.push('')
  const {totals} = result
  lines.push(`${result.ok ? 'PASSED' : 'FAILED'}: ${number(totals.files)} outputs, ${number(totals.records)} records in ${totals.buckets - totals.missing} ${result.bucketKind ?? 'bucket'}s${totals.missing ? `, ${totals.missing} missing` : ''}${totals.failed ? `, ${totals.failed} failed` : ''} (${totals.seconds}s)`)
  if (result.report) lines.push(`Report: ${result.report}`)
  return lines.join('\n')
}

/** `--athena-ddl` as text: the DDL and each query, as SQL with comments, ready to paste into Athena. */
export function formatAthena(result: AthenaDdlResult): string {
  const notes = result.notes.map((note) => `-- ${note}`)
  const queries = result.queries.map((query) => `-- ${query.name}: ${query.description}\n${query.sql}`)
  return [`-- Athena table for ${result.output} (source ${result.source})`, ...notes, '', result.ddl, '', ...queries.flatMap((query) => [query, ''])].join('\n').trimEnd()
}
