import {type DuckDB, sqlIdentifier, sqlList, sqlString} from '../duckdb/duckdb.js'
import {UsageError} from '../errors/errors.js'
import {openSandboxedDuckDB} from './sandbox.js'

/** What the checks need of a DuckDB connection (the checks run on their own connection, beside the reads). */
export type SqlRunner = Pick<DuckDB, 'query' | 'run'> & {
  /**
   * Runs `sql` only if DuckDB's parser finds exactly one statement in it and that statement is a SELECT (no
   * `COPY`, `ATTACH`, `PRAGMA`, `SET`… and nothing smuggled after a `;`), and returns its rows.
   */
  querySelect<T = Record<string, unknown>>(sql: string): Promise<T[]>
}

/** A {@link SqlRunner} over one DuckDB connection. */
export function sqlRunner(connection: DuckDB['connection']): SqlRunner {
  return {
    query: async <T>(sql: string) => (await connection.runAndReadAll(sql)).getRowObjectsJson() as T[],
    run: async (sql: string) => void (await connection.run(sql)),
    async querySelect<T>(sql: string) {
      const {StatementType} = await import('@duckdb/node-api')
      const statements = await connection.extractStatements(sql)
      if (statements.count !== 1) throw new Error(`only one SELECT statement may run, this SQL holds ${statements.count}`)
      const prepared = await statements.prepare(0)
      if (prepared.statementType !== StatementType.SELECT) throw new Error(`only a SELECT statement may run, this is a ${StatementType[prepared.statementType]} statement`)
      return (await prepared.runAndReadAll()).getRowObjectsJson() as T[]
    },
  }
}

/** A user assertion: a query over the view `records` that must return zero rows. */
export interface UserCheck {
  name: string
  sql: string
  /** Where it was given: `--check` or the check file's path (for error messages). */
  origin?: string
}

/** A file DuckDB reads: its output key and the local path (in place, or spooled from S3). */
export interface DuckFile {
  key: string
  path: string
  format: 'jsonl' | 'parquet'
}

/**
 * Splits a checks file into queries at `;` outside quotes and comments (line and block comments). A `-- name: …`
 * comment line names the query after it; unnamed ones are called `<file>#<n>`.
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
    if (char === '/' && text[i + 1] === '*') {
      // A block comment, kept whole: a ";" inside it ends no query.
      const end = text.indexOf('*/', i + 2)
      current += text.slice(i, end === -1 ? text.length : end + 2)
      i = end === -1 ? text.length : end + 1
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

const DUCKDB_TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?$/

/**
 * Turns DuckDB's rendering of timestamps (`2024-01-01 00:00:00`, from a JSON string it auto-detected as a
 * TIMESTAMP) inside a parsed `to_json` value back into ISO 8601 UTC as the records held it, in place.
 */
export function restoreTimestamps(value: unknown): unknown {
  if (typeof value === 'string') return DUCKDB_TIMESTAMP.test(value) ? `${value.replace(' ', 'T')}Z` : value
  if (Array.isArray(value)) return value.map(restoreTimestamps)
  if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) (value as Record<string, unknown>)[key] = restoreTimestamps(inner)
  }
  return value
}

/** SQL of a (possibly dotted) field path: `a.b` → `"a"."b"`. */
function fieldSql(path: string): string {
  return path.split('.').map(sqlIdentifier).join('.')
}

/** Points the view `records` at a batch of files (JSONL and Parquet unioned by column name), with `filename`. */
export async function defineRecordsView(db: SqlRunner, files: DuckFile[]): Promise<void> {
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

/**
 * Where the duplicates query reads: for JSONL with top-level key fields, a read of just those fields as text (the
 * JSON reader then skips the rest of each record: much cheaper than the full view, and values keep their form);
 * otherwise the view `records`.
 */
function keySource(files: DuckFile[], recordKey: string[]): string {
  if (files.some((file) => file.format !== 'jsonl') || recordKey.some((field) => field.includes('.'))) return 'records'
  // JSON: each key value as the file holds it (100 and "100" stay different), and nothing else parsed.
  const columns = `{${recordKey.map((field) => `${sqlString(field)}: 'JSON'`).join(', ')}}`
  return `read_json(${sqlList(files.map((file) => file.path))}, format = 'newline_delimited', columns = ${columns}, filename = true)`
}

/**
 * Finds records sharing the record key within the files; rows with a null key part are ignored. A first pass
 * groups a 64-bit hash of the key (a small hash table, whatever the key's width), a second pass — only when that
 * found repeats — groups the actual keys of those hashes, so a hash collision is never reported as a duplicate.
 */
export async function findDuplicates(db: SqlRunner, files: DuckFile[], recordKey: string[], exampleLimit = 5): Promise<DuplicateFindings> {
  const source = keySource(files, recordKey)
  const fields = recordKey.map(fieldSql).join(', ')
  const notNull = recordKey.map((field) => `${fieldSql(field)} IS NOT NULL`).join(' AND ')
  await db.run(`CREATE OR REPLACE TEMP TABLE bw_repeated_hashes AS SELECT hash(${fields}) AS h FROM ${source} WHERE ${notNull} GROUP BY h HAVING count(*) > 1`)
  const [{repeated}] = await db.query<{repeated: string | number}>('SELECT count(*) AS repeated FROM bw_repeated_hashes')
  if (Number(repeated) === 0) {
    await db.run('DROP TABLE bw_repeated_hashes')
    return {extraByPath: new Map(), examples: []}
  }
  const keys = recordKey.map((field, i) => `CAST(to_json(${fieldSql(field)}) AS VARCHAR) AS ${sqlIdentifier(`k${i}`)}`).join(', ')
  const groupBy = recordKey.map((_, i) => sqlIdentifier(`k${i}`)).join(', ')
  await db.run(
    `CREATE OR REPLACE TEMP TABLE bw_duplicates AS SELECT ${keys}, count(*) AS copies, min(filename) AS first_file, max(filename) AS last_file FROM ${source} WHERE ${notNull} AND hash(${fields}) IN (SELECT h FROM bw_repeated_hashes) GROUP BY ${groupBy} HAVING count(*) > 1`,
  )
  const perFile = await db.query<{first_file: string; extra: string | number}>('SELECT first_file, sum(copies - 1) AS extra FROM bw_duplicates GROUP BY first_file')
  const rows = await db.query(`SELECT * FROM bw_duplicates ORDER BY copies DESC, first_file LIMIT ${exampleLimit}`)
  await db.run('DROP TABLE bw_duplicates')
  await db.run('DROP TABLE bw_repeated_hashes')
  const examples = rows.map((row) => {
    const example: Record<string, unknown> = {}
    recordKey.forEach((field, i) => (example[field] = restoreTimestamps(JSON.parse(String(row[`k${i}`])))))
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
export async function runUserCheck(db: SqlRunner, check: UserCheck, exampleLimit = 5): Promise<UserCheckRun> {
  try {
    // Rows as JSON, so examples keep their types (a BIGINT is a number, a VARCHAR of digits stays a string).
    // The line break ends a trailing "-- comment" of the check before the wrapper's closing parenthesis.
    const rows = await db.querySelect<{bw_row: string; bw_rows: string | number}>(
      `SELECT CAST(to_json(bw_check) AS VARCHAR) AS bw_row, count(*) OVER () AS bw_rows FROM (${check.sql}\n) AS bw_check LIMIT ${exampleLimit}`,
    )
    const total = rows.length > 0 ? Number(rows[0]!.bw_rows) : 0
    return {rows: total, examples: rows.map((row) => restoreTimestamps(JSON.parse(row.bw_row)) as Record<string, unknown>)}
  } catch (error) {
    const message = (error as Error).message
    // DuckDB says "file system operations are disabled by configuration": say why, in the user's terms.
    const outside = /^Permission Error|disabled (through|by) configuration/.test(message) ? 'a check may read only the outputs being verified (the view "records"): ' : ''
    return {rows: 0, examples: [], error: `${outside}${message}`}
  }
}

/** Rows of each Parquet file (reading the footer and row groups: an unreadable file fails here). */
export async function countParquet(db: SqlRunner, filePath: string): Promise<{records?: number; error?: string}> {
  try {
    const rows = await db.query<{n: string | number}>(`SELECT count(*) AS n FROM read_parquet(${sqlList([filePath])})`)
    return {records: Number(rows[0]!.n)}
  } catch (error) {
    return {error: (error as Error).message}
  }
}

/**
 * The user's checks: each `--check` query, then every query of each `--check-file`. Each must be one SELECT
 * statement, as DuckDB's own parser reads it: anything else (`COPY`, `ATTACH`, `INSTALL`, `LOAD`, `SET`, `PRAGMA`,
 * a second statement after a `;`, a syntax error) is a usage error naming the check, before anything is read.
 */
export async function loadUserChecks(inline: string[], files: string[]): Promise<UserCheck[]> {
  const {readFile} = await import('node:fs/promises')
  const {basename} = await import('node:path')
  const checks = inline.map((sql, index) => ({...nameInlineCheck(sql, index), origin: '--check'}))
  for (const file of files) checks.push(...parseCheckFile(await readFile(file, 'utf8'), basename(file)).map((check) => ({...check, origin: file})))
  if (checks.length > 0) await refuseAllButSelects(checks)
  const seen = new Set<string>()
  for (const check of checks) {
    let name = check.name
    for (let n = 2; seen.has(name); n++) name = `${check.name}-${n}`
    check.name = name
    seen.add(name)
  }
  return checks
}

/** Throws a {@link UsageError} for the first check that is not exactly one SELECT statement. */
async function refuseAllButSelects(checks: UserCheck[]): Promise<void> {
  // Parsed (not run) by DuckDB itself, in a DuckDB that can read nothing: extractStatements splits the SQL as
  // DuckDB would run it, json_serialize_sql serialises SELECT statements only.
  const db = await openSandboxedDuckDB([], {threads: 1, memoryLimit: '64MB'})
  try {
    for (const check of checks) {
      let problem: string | undefined
      const statements = await db.connection.extractStatements(check.sql).then(
        (extracted) => extracted.count,
        (error: Error) => {
          problem = `it does not parse: ${error.message.replace(/^(Failed to extract statements: )?(Parser Error: )?/, '')}`
          return 0
        },
      )
      if (!problem && statements !== 1) problem = statements > 1 ? `it holds ${statements} statements (one SELECT per check; separate the checks of a file with ";")` : 'it is empty'
      if (!problem) {
        const [{parsed}] = await db.query<{parsed: string}>('SELECT json_serialize_sql($1::VARCHAR) AS parsed', [check.sql])
        const tree = JSON.parse(parsed) as {error: boolean; error_message?: string}
        if (tree.error) problem = 'it is not a SELECT statement (COPY, ATTACH, INSTALL, LOAD, SET, PRAGMA and the like are refused)'
      }
      if (problem) {
        throw new UsageError(`Check "${check.name}" (${check.origin ?? '--check'}) is not a single SELECT query: ${problem}.`, {
          code: 'BAD_CHECK',
          nextSteps: [
            'Write each check as one SELECT over the view "records" that returns the offending rows (none when the data is sound).',
            'Checks only read the outputs being verified: they cannot read other files, write, attach databases, load extensions or change settings.',
          ],
          details: {check: check.name, origin: check.origin, sql: check.sql},
        })
      }
    }
  } finally {
    await db.close()
  }
}

/**
 * Streams the rows of a Parquet file as JSON records (timestamps as ISO 8601 UTC, as the JSONL held them) and
 * validates those `pick()` chooses; returns how many were checked and how many failed. Rows arrive chunk by chunk.
 */
export async function validateParquet(db: DuckDB, filePath: string, check: (record: unknown, row: number) => boolean, pick: () => boolean): Promise<{validated: number; invalid: number}> {
  // A connection of its own: a second query on a connection ends the stream of the first.
  const connection = await db.instance.connect()
  try {
    return await validateRows(connection, filePath, check, pick)
  } finally {
    connection.closeSync()
  }
}

async function validateRows(connection: DuckDB['connection'], filePath: string, check: (record: unknown, row: number) => boolean, pick: () => boolean): Promise<{validated: number; invalid: number}> {
  const result = await connection.stream(`SELECT to_json(t)::VARCHAR AS j FROM read_parquet(${sqlList([filePath])}) AS t`)
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
