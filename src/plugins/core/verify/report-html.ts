import type {BucketResult, CheckResult, VerifyResult, VerifyWarning} from './result.js'

const escape = (text: unknown) => String(text ?? '').replace(/[&<>"']/g, (char) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'})[char]!)
const number = (value: number | undefined) => (value === undefined ? '—' : value.toLocaleString('en-US'))

/** Records per bucket as an inline SVG bar chart: one bar per bucket, missing and failed buckets in red. */
function chart(buckets: BucketResult[]): string {
  const height = 260
  const top = 20
  const bottom = 70
  const left = 70
  const barWidth = Math.max(4, Math.min(40, Math.floor(1000 / Math.max(1, buckets.length))))
  const width = left + buckets.length * barWidth + 20
  const max = Math.max(1, ...buckets.map((bucket) => bucket.records ?? bucket.manifestRecords ?? 0))
  const plot = height - top - bottom
  const labelEvery = Math.max(1, Math.ceil(buckets.length / 40))
  const parts: string[] = []
  for (const fraction of [0, 0.25, 0.5, 0.75, 1]) {
    const y = top + plot - fraction * plot
    parts.push(`<line x1="${left}" x2="${width - 10}" y1="${y}" y2="${y}" class="grid"/><text x="${left - 6}" y="${y + 4}" class="axis" text-anchor="end">${escape(number(Math.round(max * fraction)))}</text>`)
  }
  buckets.forEach((bucket, i) => {
    const x = left + i * barWidth
    const records = bucket.records ?? 0
    // A missing bucket fills the height (hatched red); a bucket without data is a thin grey line at zero.
    const barHeight = bucket.status === 'missing' ? plot : bucket.status === 'no-data' ? 2 : Math.max(records > 0 ? 1 : 0, (records / max) * plot)
    const tip =
      bucket.status === 'missing'
        ? `${bucket.key}: missing`
        : bucket.status === 'no-data'
          ? `${bucket.key}: no data (no output, no raw objects)`
          : `${bucket.key}: ${number(bucket.records)} records${bucket.problems.length ? ` — ${bucket.problems.join('; ')}` : ''}`
    parts.push(
      `<rect class="bar ${bucket.status}" data-bucket="${escape(bucket.key)}" data-status="${bucket.status}" data-records="${bucket.records ?? ''}" x="${x + 1}" y="${top + plot - barHeight}" width="${Math.max(1, barWidth - 2)}" height="${barHeight}"${bucket.status === 'missing' ? ' fill="url(#missing)"' : ''}><title>${escape(tip)}</title></rect>`,
    )
    if (bucket.status === 'missing') parts.push(`<text class="missing-label" x="${x + barWidth / 2}" y="${top + 12}" text-anchor="middle">✕</text>`)
    if (i % labelEvery === 0 || bucket.status !== 'ok') {
      parts.push(`<text class="axis${bucket.status === 'ok' ? '' : ' bad'}" transform="translate(${x + barWidth / 2},${top + plot + 8}) rotate(60)">${escape(bucket.key)}</text>`)
    }
  })
  return `<svg xmlns="http://www.w3.org/2000/svg" id="records-chart" role="img" aria-label="Records per bucket" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
<defs><pattern id="missing" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fde2e2"/><line x1="0" y1="0" x2="0" y2="6" stroke="#d92d20" stroke-width="3"/></pattern></defs>
${parts.join('\n')}
</svg>`
}

function checksTable(checks: CheckResult[]): string {
  const rows = checks.map(
    (check) =>
      `<tr class="check ${check.status}" data-check="${escape(check.name)}"><td class="status">${check.status.toUpperCase()}</td><td>${escape(check.name)}</td><td>${escape(check.summary)}${check.name.startsWith('sql:') ? `<pre>${escape((check.details as {sql?: string}).sql)}</pre>` : ''}</td></tr>`,
  )
  return `<table id="checks"><thead><tr><th>Status</th><th>Check</th><th>Result</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
}

function schemaTable(result: VerifyResult): string {
  const {schema} = result
  if (schema.recordsChecked === 0) return '<p>No records were checked against a schema.</p>'
  const head = `<p>${number(schema.recordsChecked)} records checked, ${number(schema.recordsInvalid)} invalid.</p>`
  if (schema.violations.length === 0) return head
  const rows = schema.violations.map(
    (violation) =>
      `<tr><td><code>${escape(violation.path)}</code></td><td>${escape(violation.keyword)}</td><td>${escape(violation.message)}</td><td class="num">${number(violation.count)}</td><td><code>${escape(JSON.stringify(violation.example.value))}</code><br><small>${escape(violation.example.where)}</small></td></tr>`,
  )
  return `${head}<table id="schema"><thead><tr><th>Field</th><th>Rule</th><th>Message</th><th>Records</th><th>Example</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
}

function warningsList(warnings: VerifyWarning[]): string {
  if (warnings.length === 0) return '<p>None.</p>'
  return `<ul id="warnings">${warnings.map((warning) => `<li class="warning" data-code="${escape(warning.code)}"><code>${escape(warning.code)}</code> ${escape(warning.message)}</li>`).join('')}</ul>`
}

function bucketTable(buckets: BucketResult[]): string {
  const rows = buckets.map(
    (bucket) =>
      `<tr class="bucket ${bucket.status}"><td>${escape(bucket.key)}</td><td>${escape(bucket.output)}</td><td class="num">${number(bucket.records)}</td><td class="num">${number(bucket.manifestRecords)}</td><td class="num">${bucket.rawChecked ? number(bucket.rawRecords) : '—'}</td><td class="num">${number(bucket.duplicates)}</td><td>${bucket.status}</td><td>${bucket.problems.map(escape).join('<br>')}</td></tr>`,
  )
  return `<table id="buckets"><thead><tr><th>Bucket</th><th>Output</th><th>Records</th><th>Manifest</th><th>Raw</th><th>Duplicates</th><th>Status</th><th>Problems</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
}

/** The verify result as one self-contained HTML page (no scripts, fonts or styles from elsewhere: opens offline). */
export function renderReport(result: VerifyResult, generatedAt = new Date()): string {
  const failed = result.checks.filter((check) => check.status === 'fail')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>bucketwright verify — ${escape(result.output)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d2939;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
.verdict{display:inline-block;padding:4px 10px;border-radius:4px;font-weight:600;color:#fff}
.verdict.pass{background:#12b76a}.verdict.fail{background:#d92d20}
.chart{overflow-x:auto;border:1px solid #eaecf0;padding:8px}
.bar.ok{fill:#2e90fa}.bar.failed{fill:#d92d20}.bar.missing{stroke:#d92d20;stroke-width:1}.bar.no-data{fill:#98a2b3}
.grid{stroke:#eaecf0}.axis{font-size:10px;fill:#475467}.axis.bad{fill:#d92d20;font-weight:600}.missing-label{fill:#d92d20;font-size:11px;font-weight:700}
table{border-collapse:collapse;width:100%;margin-top:6px}th,td{border-bottom:1px solid #eaecf0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f9fafb}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.fail td.status,tr.bucket.failed td,tr.bucket.missing td{color:#b42318}tr.bucket.no-data td{color:#667085}li.warning{color:#b54708}tr.pass td.status{color:#027a48}tr.skip td.status{color:#667085}
pre{margin:4px 0 0;white-space:pre-wrap;font-size:12px;color:#475467}.legend span{margin-right:14px}
.swatch{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
</style></head><body>
<h1>Verification of ${escape(result.output)}</h1>
<p><span class="verdict ${result.ok ? 'pass' : 'fail'}" id="verdict">${result.ok ? 'PASSED' : `FAILED: ${failed.length} check(s)`}${result.warnings.length > 0 ? `, ${result.warnings.length} warning(s)` : ''}</span>
source <b>${escape(result.source)}</b>${result.raw ? `, raw ${escape(result.raw)}` : ''} · ${number(result.totals.files)} outputs · ${number(result.totals.records)} records · ${escape(generatedAt.toISOString())}</p>
<h2>Records per ${escape(result.bucketKind ?? 'bucket')}</h2>
<p class="legend"><span><i class="swatch" style="background:#2e90fa"></i>ok</span><span><i class="swatch" style="background:#d92d20"></i>failed</span><span><i class="swatch" style="background:#fde2e2;border:1px solid #d92d20"></i>missing</span><span><i class="swatch" style="background:#98a2b3"></i>no data</span></p>
<div class="chart">${chart(result.buckets)}</div>
<h2>Checks</h2>${checksTable(result.checks)}
<h2>Warnings (${result.warnings.length}): not checked, not failed</h2>${warningsList(result.warnings)}
<h2>Schema findings</h2>${schemaTable(result)}
<h2>Buckets</h2>${bucketTable(result.buckets)}
</body></html>
`
}
