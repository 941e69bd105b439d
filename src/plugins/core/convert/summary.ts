import {printable} from '../command/printable.js'
import {formatBytes} from '../command/units.js'
import type {SchemaViolation} from '../schema/validator.js'
import {describeRule} from '../storage/transfer.js'
import type {ConvertResult} from './types.js'

/** A schema violation's example as text: its (already shortened) JSON and where it was, printable. */
export function describeExample(example: SchemaViolation['example']): string {
  // A shortened example is already text (the string, or the value's JSON), cut.
  const value = example.truncated ? String(example.value) : (JSON.stringify(example.value) ?? 'undefined')
  return printable(`${value}${example.truncated ? ' (shortened)' : ''}${example.where ? ` at ${example.where}` : ''}`)
}

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`

/**
 * The human summary of a convert run (stdout without --json): one line per bucket, totals, plan cost; keys and values
 * printable. The totals are the sums of the bucket lines above them — skipped buckets included, with what their
 * manifests say — so the numbers agree; what this run itself wrote and quarantined is said beside them.
 */
export function formatConvertSummary(result: ConvertResult): string {
  const lines: string[] = []
  // A bucket a dry run would write has an estimated size and records not yet counted (unless a manifest has them).
  const estimated = (bucket: ConvertResult['buckets'][number]) => bucket.status === 'planned' && bucket.action !== 'skip'
  for (const bucket of result.buckets) {
    const what = bucket.status === 'planned' ? `would ${bucket.action}` : bucket.status
    const bad = bucket.quarantined.length > 0 ? `, ${bucket.quarantined.length} quarantined` : ''
    const why = bucket.reason === 'foreign' ? ' (made by another tool: no manifest)' : bucket.reason === 'interrupted' ? ' (an earlier run stopped before its manifest)' : bucket.reason ? ` (${bucket.reason})` : ''
    const records = estimated(bucket) && bucket.records === 0 ? '' : ` ${bucket.records} records,`
    const out = estimated(bucket) ? `~${formatBytes(bucket.bytesOut)} out (estimated)` : `${formatBytes(bucket.bytesOut)} out`
    const formats = bucket.formats
      ? ` [${Object.entries(bucket.formats)
          .map(([format, split]) => `${printable(format)}: ${split.objects} objects, ${formatBytes(split.bytes)}`)
          .join('; ')}]`
      : ''
    lines.push(`${printable(bucket.output).padEnd(24)} ${what}${why}: ${bucket.objects} objects,${records} ${formatBytes(bucket.bytesIn)} in, ${out}${bad}${formats}`)
    for (const entry of bucket.quarantined.slice(0, 5)) lines.push(`    quarantined ${printable(entry.key)}: ${printable(entry.reason)}`)
  }
  if (result.buckets.length === 0) lines.push(`No objects of source ${printable(result.source)} under ${printable(result.input)}${result.from ? ` between ${result.from} and ${result.to}` : ''}.`)
  // The rate of the records this run encoded: skipped buckets' records come from their manifests.
  const done = result.buckets.filter((bucket) => bucket.status === 'written' || bucket.status === 'rebuilt')
  const encoded = done.reduce((sum, bucket) => sum + bucket.records, 0)
  const rate = result.seconds > 0 && encoded > 0 ? ` (${Math.round(encoded / result.seconds)} records/s encoded)` : ''
  const sum = (of: (bucket: ConvertResult['buckets'][number]) => number) => result.buckets.reduce((total, bucket) => total + of(bucket), 0)
  const statuses = new Map<string, number>()
  for (const bucket of result.buckets) {
    const what = bucket.status === 'planned' ? `to ${bucket.action}` : bucket.status
    statuses.set(what, (statuses.get(what) ?? 0) + 1)
  }
  const byStatus = result.buckets.length > 0 ? ` (${[...statuses].map(([what, count]) => `${count} ${what}`).join(', ')})` : ''
  const quarantined = sum((bucket) => bucket.quarantined.length)
  if (result.dryRun) {
    const recordsKnown = !result.buckets.some((bucket) => estimated(bucket) && bucket.records === 0)
    const outEstimated = result.buckets.some(estimated)
    lines.push(
      `Plan: ${plural(result.buckets.length, 'bucket')}${byStatus}, ${result.objects} objects,${recordsKnown ? ` ${sum((bucket) => bucket.records)} records,` : ''} ${formatBytes(result.bytesIn)} in, ${outEstimated ? '~' : ''}${formatBytes(sum((bucket) => bucket.bytesOut))} out${outEstimated ? ' (estimated)' : ''}${quarantined > 0 ? `, ${quarantined} quarantined` : ''}, ${result.seconds} s`,
    )
  } else {
    // result.quarantined counts this run's only (the exit code's); the sum includes what skipped buckets' manifests hold.
    const fresh = quarantined !== result.quarantined ? ` (${result.quarantined} this run)` : ''
    lines.push(
      `Total: ${plural(result.buckets.length, 'bucket')}${byStatus}, ${result.objects} objects, ${sum((bucket) => bucket.records)} records, ${formatBytes(result.bytesIn)} in, ${formatBytes(sum((bucket) => bucket.bytesOut))} out, ${quarantined} quarantined${fresh}, ${result.seconds} s${rate}`,
    )
  }
  if (result.foreign > 0) {
    lines.push(`${plural(result.foreign, 'output')} made by another tool (no manifest) left alone: \`verify --adopt\` checks them against the raw objects and adopts them; --rebuild-foreign rebuilds them.`)
  }
  if (result.requests) {
    const r = result.requests
    lines.push(
      `S3 requests${r.estimated ? ' (planned)' : ''}: ${r.list} LIST, ${r.get} GET, ${r.head} HEAD, ${r.put} PUT — $${r.cost.total.toFixed(4)} (LIST $${r.cost.list.toFixed(4)}, GET/HEAD $${r.cost.get.toFixed(4)}, PUT $${r.cost.put.toFixed(4)})`,
    )
  }
  if (result.transfer) {
    const t = result.transfer
    lines.push(`Data transfer, running ${t.runningIn}: $${t.total.toFixed(4)}${t.partial ? ' and what a provider that is not AWS charges' : ''}`)
    for (const leg of t.legs) {
      lines.push(`    ${leg.direction} ${formatBytes(leg.bytes)} ${leg.direction === 'read' ? 'from' : 'to'} ${printable(leg.store)}: ${describeRule(leg)}${leg.cost === undefined ? '' : ` — $${leg.cost.toFixed(4)}`}`)
    }
  }
  if (result.validation) {
    lines.push(`Validation: ${result.validation.recordsInvalid} of ${result.validation.recordsChecked} records invalid`)
    for (const violation of result.validation.violations.slice(0, 10)) lines.push(`    ${printable(violation.path)}: ${violation.count}× ${printable(violation.message)}, e.g. ${describeExample(violation.example)}`)
  }
  return lines.join('\n')
}
