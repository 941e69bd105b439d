import {printable} from '../command/printable.js'
import type {SchemaViolation} from '../schema/validator.js'
import type {ConvertResult} from './types.js'

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`

/** A schema violation's example as text: its (already shortened) JSON and where it was, printable. */
export function describeExample(example: SchemaViolation['example']): string {
  // A shortened example is already text (the string, or the value's JSON), cut.
  const value = example.truncated ? String(example.value) : (JSON.stringify(example.value) ?? 'undefined')
  return printable(`${value}${example.truncated ? ' (shortened)' : ''}${example.where ? ` at ${example.where}` : ''}`)
}

/** The human summary of a convert run (stdout without --json): one line per bucket, totals, plan cost; keys and values printable. */
export function formatConvertSummary(result: ConvertResult): string {
  const lines: string[] = []
  for (const bucket of result.buckets) {
    const what = bucket.status === 'planned' ? `would ${bucket.action}` : bucket.status
    const bad = bucket.quarantined.length > 0 ? `, ${bucket.quarantined.length} quarantined` : ''
    const why = bucket.reason === 'foreign' ? ' (made by another tool: no manifest)' : bucket.reason ? ` (${bucket.reason})` : ''
    lines.push(`${printable(bucket.output).padEnd(24)} ${what}${why}: ${bucket.objects} objects, ${bucket.records} records, ${mb(bucket.bytesIn)} in, ${mb(bucket.bytesOut)} out${bad}`)
    for (const entry of bucket.quarantined.slice(0, 5)) lines.push(`    quarantined ${printable(entry.key)}: ${printable(entry.reason)}`)
  }
  if (result.buckets.length === 0) lines.push(`No objects of source ${printable(result.source)} under ${printable(result.input)}${result.from ? ` between ${result.from} and ${result.to}` : ''}.`)
  // The rate of the records this run encoded: skipped buckets' records come from their manifests.
  const encoded = result.buckets.reduce((sum, bucket) => sum + (bucket.status === 'written' || bucket.status === 'rebuilt' ? bucket.records : 0), 0)
  const rate = result.seconds > 0 && encoded > 0 ? ` (${Math.round(encoded / result.seconds)} records/s encoded)` : ''
  lines.push(`${result.dryRun ? 'Plan' : 'Total'}: ${result.buckets.length} buckets, ${result.objects} objects, ${result.records} records, ${mb(result.bytesIn)} in, ${mb(result.bytesOut)} out, ${result.quarantined} quarantined, ${result.seconds} s${rate}`)
  if (result.foreign > 0) {
    lines.push(`${result.foreign} output(s) made by another tool (no manifest) left alone: \`verify --adopt\` checks them against the raw objects and adopts them; --rebuild-foreign rebuilds them.`)
  }
  if (result.requests) {
    const r = result.requests
    lines.push(`S3 requests${r.estimated ? ' (planned)' : ''}: ${r.list} LIST, ${r.get} GET, ${r.head} HEAD, ${r.put} PUT — $${r.cost.total.toFixed(4)} (LIST $${r.cost.list.toFixed(4)}, GET/HEAD $${r.cost.get.toFixed(4)}, PUT $${r.cost.put.toFixed(4)})`)
  }
  if (result.validation) {
    lines.push(`Validation: ${result.validation.recordsInvalid} of ${result.validation.recordsChecked} records invalid`)
    for (const violation of result.validation.violations.slice(0, 10)) lines.push(`    ${printable(violation.path)}: ${violation.count}× ${printable(violation.message)}, e.g. ${describeExample(violation.example)}`)
  }
  return lines.join('\n')
}
