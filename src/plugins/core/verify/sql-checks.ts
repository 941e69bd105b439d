import {type DuckDB, sqlIdentifier, sqlList} from '../duckdb/duckdb.js'

/** A user assertion: a query over the view `records` that must return zero rows. */
export interface UserCheck {
  name: string
  sql: string
}

/** A file DuckDB reads: its output key and the local path (in place, or spooled from S3). */
export interface DuckFile {
  key: string
  path: string
  format: 'jsonl' | 'parquet'
}

/**
 * Splits a checks file into queries at `;` outside quotes and comments. A `-- name: …` comment line names the
 * query after it; unnamed ones are called `<file>#<n>`.
 */
export function parseCheckFile(text: string, fileName: string): UserCheck[] {
  const checks: UserCheck[] = []
  let current = ''
  let name: string | undefined
  let quote: string | undefined
  const flush = () => {
    const sql = current.replace(/^\s*(--[^\n]*\n\s*)*/, '').trim()
    if (sql) checks.push({name: name ?? `${fileName}#${checks.length + 1}`, sql})
    current = ''
    name = undefined
  }
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!
    if (quote) {
      current += char
      if (char === quote) quote = undefined
      continue
    }
    if (char === '-' && text[i + 1] === '-') {
      const end = text.indexOf('\n', i)
      const comment = text.slice(i, end === -1 ? text.length : end)
      const named = comment.match(/^--\s*name:\s*(.+?)\s*$/)
      if (named && !current.trim()) name = named[1]
      else current += comment
      i = end === -1 ? text.length : end - 1
      continue
    }
    if (char === "'" || char === '"') quote = char
    if (char === ';') flush()
    else current += char
  }
  flush()
  return checks
}

/** Names a `--check` given on the command line: its first words. */
export function nameInlineCheck(sql: string, index: number): UserCheck {
  const named = sql.match(/^\s*--\s*name:\s*(.+?)\s*\n([\s\S]*)$/)
  if (named) return {name: named[1]!, sql: named[2]!.trim().replace(/;\s*$/, '')}
  return {name: `check-${index + 1}`, sql: sql.trim().replace(/;\s*$/, '')}
}

/**
 * A DuckDB value as the JSON file held it: BIGINTs (which DuckDB hands over as strings) back to numbers when safe,
 * and auto-detected timestamps back to ISO 8601 UTC (`2024-01-01T00:00:00Z`), so examples match the records.
 */
export function asRecordValue(value: unknown): unknown {
  if (typeof value === 'string') {
    if (/^-?\d{1,16}$/.test(value) && Number.isSafeInteger(Number(value))) return Number(value)
    if (/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?$/.test(value)) return `${value.replace(' ', 'T')}Z`
  }
  return value
}

function asRecord(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).map(([key, value]) => [key, asRecordValue(value)]))
}

/** SQL of a (possibly dotted) field path: `a.b` → `"a"."b"`. */
function fieldSql(path: string): string {
  return path.split('.').map(sqlIdentifier).join('.')
}

/** Points the view `records` at a batch of files (JSONL and Parquet unioned by column name), with `filename`. */
export async function defineRecordsView(db: DuckDB, files: DuckFile[]): Promise<void> {
  const jsonl = files.filter((file) => file.format === 'jsonl').map((file) => file.path)
  const parquet = files.filter((file) => file.format === 'parquet').map((file) => file.path)
  const parts: string[] = []
  if (jsonl.length > 0) parts.push(`SELECT * FROM read_json(${sqlList(jsonl)}, format = 'newline_delimited', union_by_name = true, filename = true)`)
  if (parquet.length > 0) parts.push(`SELECT * FROM read_parquet(${sqlList(parquet)}, union_by_name = true, filename = true)`)
  await db.run(`CREATE OR REPLACE TEMP VIEW records AS ${parts.length > 0 ? parts.join(' UNION ALL BY NAME ') : 'SELECT NULL AS filename WHERE false'}`)
}

/** Duplicates of a batch: extra copies per file (attributed to the first file holding the key) and examples. */
export interface DuplicateFindings {
  extraByPath: Map<string, number>
  examples: Record<string, unknown>[]
}

/** Finds records sharing the record key within the files of the view; rows with a null key part are ignored. */
export async function findDuplicates(db: DuckDB, recordKey: string[], exampleLimit = 5): Promise<DuplicateFindings> {
  const keys = recordKey.map((field, i) => `${fieldSql(field)} AS ${sqlIdentifier(`k${i}`)}`).join(', ')
  const notNull = recordKey.map((field) => `${fieldSql(field)} IS NOT NULL`).join(' AND ')
  const groupBy = recordKey.map((_, i) => sqlIdentifier(`k${i}`)).join(', ')
  await db.run(`CREATE OR REPLACE TEMP TABLE bw_duplicates AS SELECT ${keys}, count(*) AS copies, min(filename) AS first_file, max(filename) AS last_file FROM records WHERE ${notNull} GROUP BY ${groupBy} HAVING count(*) > 1`)
  const perFile = await db.query<{first_file: string; extra: string | number}>('SELECT first_file, sum(copies - 1) AS extra FROM bw_duplicates GROUP BY first_file')
  const rows = await db.query(`SELECT * FROM bw_duplicates ORDER BY copies DESC, first_file LIMIT ${exampleLimit}`)
  await db.run('DROP TABLE bw_duplicates')
  const examples = rows.map((row) => {
    const example: Record<string, unknown> = {}
    recordKey.forEach((field, i) => (example[field] = asRecordValue(row[`k${i}`])))
    return {...example, copies: Number(row.copies), files: [...new Set([row.first_file, row.last_file])]}
  })
  return {extraByPath: new Map(perFile.map((row) => [row.first_file, Number(row.extra)])), examples}
}

/** Result of one user check over one batch. */
export interface UserCheckRun {
  rows: number
  examples: Record<string, unknown>[]
  error?: string
}

/** Runs a user check over the view; returns how many rows it gave (0 = passed) and the first few. */
export async function runUserCheck(db: DuckDB, check: UserCheck, exampleLimit = 5): Promise<UserCheckRun> {
  try {
    const rows = await db.query(`SELECT *, count(*) OVER () AS bw_rows FROM (${check.sql}) AS bw_check LIMIT ${exampleLimit}`)
    const total = rows.length > 0 ? Number(rows[0]!.bw_rows) : 0
    return {rows: total, examples: rows.map(({bw_rows: _rows, ...rest}) => asRecord(rest))}
  } catch (error) {
    return {rows: 0, examples: [], error: (error as Error).message}
  }
}

/** Rows of each Parquet file (reading the footer and row groups: an unreadable file fails here). */
export async function countParquet(db: DuckDB, filePath: string): Promise<{records?: number; error?: string}> {
  try {
    const rows = await db.query<{n: string | number}>(`SELECT count(*) AS n FROM read_parquet(${sqlList([filePath])})`)
    return {records: Number(rows[0]!.n)}
  } catch (error) {
    return {error: (error as Error).message}
  }
}

/** The user's checks: each `--check` query, then every query of each `--check-file`. */
export async function loadUserChecks(inline: string[], files: string[]): Promise<UserCheck[]> {
  const {readFile} = await import('node:fs/promises')
  const {basename} = await import('node:path')
  const checks = inline.map((sql, index) => nameInlineCheck(sql, index))
  for (const file of files) checks.push(...parseCheckFile(await readFile(file, 'utf8'), basename(file)))
  const seen = new Set<string>()
  for (const check of checks) {
    let name = check.name
    for (let n = 2; seen.has(name); n++) name = `${check.name}-${n}`
    check.name = name
    seen.add(name)
  }
  return checks
}

/** Turns DuckDB's rendering of timestamps inside a parsed `to_json` row back into ISO 8601 UTC, in place. */
function restoreTimestamps(value: unknown): unknown {
  if (typeof value === 'string') return asRecordValue(value)
  if (Array.isArray(value)) return value.map(restoreTimestamps)
  if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) (value as Record<string, unknown>)[key] = restoreTimestamps(inner)
  }
  return value
}

/**
 * Streams the rows of a Parquet file as JSON records (timestamps as ISO 8601 UTC, as the JSONL held them) and
 * validates those `pick()` chooses; returns how many were checked and how many failed. Rows arrive chunk by chunk.
 */
export async function validateParquet(db: DuckDB, filePath: string, check: (record: unknown, row: number) => boolean, pick: () => boolean): Promise<{validated: number; invalid: number}> {
  const result = await db.connection.stream(`SELECT to_json(t)::VARCHAR AS j FROM read_parquet(${sqlList([filePath])}) AS t`)
  let row = 0
  let validated = 0
  let invalid = 0
  for await (const rows of result.yieldRowsJs()) {
    for (const [json] of rows) {
      row++
      if (!pick()) continue
      validated++
      if (!check(restoreTimestamps(JSON.parse(String(json))), row)) invalid++
    }
  }
  return {validated, invalid}
}
