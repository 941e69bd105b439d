import {printable} from '../command/printable.js'
import type {AthenaDdlResult, VerifyResult} from './result.js'

const number = (value: number | undefined) => (value === undefined ? '-' : value.toLocaleString('en-US'))
/** `1 day`, `2 days`, `10,080 objects`. */
export const plural = (count: number, word: string) => `${number(count)} ${word}${count === 1 ? '' : 's'}`

/** A failed query's error (DuckDB's, several lines): shown under the table, not in its cell. */
const queryError = (check: VerifyResult['checks'][number]) =>
  check.status === 'fail' && typeof check.details.error === 'string'
    ? check.details.error
        .split('\n\n')[0]!
        .split('\n')
        .filter((line) => line.trim() !== '')
    : undefined

/** Rows as aligned columns; every cell printable (escaped before measuring, so the columns stay aligned). */
function columns(rows: string[][]): string[] {
  const cells = rows.map((row) => row.map((cell) => printable(cell)))
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)))
  return cells.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  )
}

/**
 * The verify result as text for a terminal: checks, then buckets with problems (all buckets with `all`) — each
 * bucket on its own line with its problems under the table — then the warnings, one a line, and the verdict.
 * Keys and values are printable: control characters in them are shown escaped.
 */
export function formatVerifyTable(result: VerifyResult, options: {allBuckets?: boolean} = {}): string {
  const lines: string[] = []
  lines.push(...columns([['STATUS', 'CHECK', 'RESULT'], ...result.checks.map((check) => [check.status.toUpperCase(), check.name, queryError(check) ? 'the query failed (error below)' : check.summary])]))
  for (const check of result.checks) {
    const error = queryError(check)
    if (error) lines.push('', `${check.name}: the query failed:`, ...error.map((line) => `  ${printable(line)}`))
  }
  const shown = options.allBuckets ? result.buckets : result.buckets.filter((bucket) => bucket.status === 'failed' || bucket.status === 'missing')
  if (shown.length > 0) {
    lines.push('')
    lines.push(
      ...columns([
        ['BUCKET', 'STATUS', 'RECORDS', 'MANIFEST', 'RAW', 'OUTPUT'],
        ...shown.map((bucket) => [
          bucket.key,
          bucket.status,
          number(bucket.records),
          number(bucket.manifestRecords),
          bucket.rawChecked ? number(bucket.rawRecords) : bucket.status === 'no-data' ? '0' : '-',
          bucket.output,
        ]),
      ]),
    )
    for (const bucket of shown) {
      for (const problem of bucket.problems) lines.push(`  ${printable(bucket.key)}: ${printable(problem.startsWith(`${bucket.key}: `) ? problem.slice(bucket.key.length + 2) : problem)}`)
    }
  }
  if (result.warnings.length > 0) {
    lines.push('', `WARNINGS (${result.warnings.length}): not checked, not failed`)
    for (const warning of result.warnings) lines.push(`  ${warning.code}  ${printable(warning.message)}`)
  }
  lines.push('')
  const {totals} = result
  const kind = result.bucketKind ?? 'bucket'
  const present = totals.buckets - result.buckets.filter((bucket) => bucket.status === 'missing' || bucket.status === 'no-data').length
  const verdict = `${result.ok ? 'PASSED' : 'FAILED'}${totals.warnings ? ` with ${plural(totals.warnings, 'warning')}` : ''}`
  const counts = [`${number(totals.files)} outputs, ${number(totals.records)} records in ${plural(present, kind)}`]
  if (totals.missing) counts.push(`${number(totals.missing)} missing`)
  if (totals.failed) counts.push(`${number(totals.failed)} failed`)
  if (totals.noData) counts.push(`${number(totals.noData)} without data`)
  lines.push(`${verdict}: ${counts.join(', ')} (${totals.seconds}s)`)
  if (result.report) lines.push(`Report: ${printable(result.report)}`)
  return lines.join('\n')
}

/** `--athena-ddl` as text: the DDL and each query, as SQL with comments, ready to paste into Athena. */
export function formatAthena(result: AthenaDdlResult): string {
  const notes = result.notes.map((note) => `-- ${note}`)
  const queries = result.queries.map((query) => `-- ${query.name}: ${query.description}\n${query.sql}`)
  // SQL to paste: line breaks are its own; any other control character is shown escaped.
  return printable([`-- Athena table for ${printable(result.output)} (source ${printable(result.source)})`, ...notes, '', result.ddl, '', ...queries.flatMap((query) => [query, ''])].join('\n').trimEnd(), {
    keepNewlines: true,
  })
}
