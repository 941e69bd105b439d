import type {DuckDBType} from '@duckdb/node-api'
import {createReadStream} from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {pipeline} from 'node:stream/promises'
import type {Client} from 'pg'

import {type DuckDB, openDuckDB, sqlIdentifier, sqlString} from '../duckdb/duckdb.js'
import {Spool} from '../duckdb/spool.js'
import {BucketwrightError, RemoteError, UserError} from '../errors/errors.js'
import {redactConnectionString} from '../etl/postgres-sink.js'
import type {Logger} from '../progress/logger.js'
import {isBookkeepingKey} from '../storage/overlap.js'
import type {ObjectInfo, Storage} from '../storage/types.js'
import {type FilePlan, fitsIn, parentKeyExpr, planFile, type PlannedColumn, widenedType} from './plan.js'

/** The load ledger: one row per staging file loaded into a table, written in the file's transaction. */
export const LOAD_LEDGER_TABLE = 'bucketwright_load_ledger'

/** Staging files `load` reads: Parquet, and JSON Lines (optionally gzip or zstd compressed). */
const STAGING_FILE = /\.(parquet|jsonl|ndjson)(\.gz|\.zst)?$/i

/** What `load` did with one file: the `--json` contract. */
export interface LoadFileResult {
  file: string
  status: 'loaded' | 'already-loaded' | 'failed' | 'not-reached'
  /** Rows upserted into the table (after the file's own duplicates on the key were merged: the last one wins). */
  rows: number
  /** Rows written per child table (`--normalize`). */
  children?: Record<string, number>
  /** Columns this file added to the tables, and columns it widened. */
  added?: string[]
  widened?: string[]
  /** The tables' schema version after this file (recorded in the ledger). */
  schemaVersion?: number
  error?: {code: string; message: string; nextSteps: string[]}
}

/** The `--json` result of `bucketwright load`. */
export interface LoadResult {
  location: string
  /** The Postgres URL without its password. */
  target: string
  table: string
  key: string[]
  files: LoadFileResult[]
  totals: {files: number; loaded: number; alreadyLoaded: number; failed: number; rows: number}
}

/** Options of {@link runLoad}. */
export interface LoadOptions {
  staging: Storage
  url: string
  /** The table rows are upserted into (child tables are `<table>__<field>`). */
  table: string
  /** Schema of the tables and the ledger (default `public`). */
  schema?: string
  /** The record key: column names or dotted paths into struct columns. */
  key: string[]
  normalize?: boolean
  logger?: Logger
  tempRoot?: string
  /** Bytes of S3 files spooled at once (default 2 GiB). */
  diskBudget?: number
  memoryLimit?: string
  /** Stop before the next file (SIGTERM); the file in hand is finished. */
  signal?: AbortSignal
  onFile?: (result: LoadFileResult) => void
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`

/** The staging files under the location, in key order (dates in names and folders sort in time order). */
async function listStaging(storage: Storage): Promise<ObjectInfo[]> {
  const files: ObjectInfo[] = []
  for await (const info of storage.list('')) {
    // Bookkeeping and hidden or pending files (`_manifests/`, compact's `_pending.…`, `.bw-tmp-…`) are no input.
    if (isBookkeepingKey(info.key) || info.key.split('/').some((part) => part.startsWith('_') || part.startsWith('.'))) continue
    if (STAGING_FILE.test(info.key)) files.push(info)
  }
  return files.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
}

/** Hive `name=value` folders of a key: columns a file gets when it lacks them. */
function hiveColumns(key: string): [string, string][] {
  return key
    .split('/')
    .slice(0, -1)
    .flatMap((part) => {
      const at = part.indexOf('=')
      return at > 0 ? [[part.slice(0, at), decodeURIComponent(part.slice(at + 1))] as [string, string]] : []
    })
}

/** A file read by DuckDB, deduplicated on the key and written as CSV for COPY: the table's and each child's. */
interface StagedFile {
  plan: FilePlan
  rows: number
  csv: string
  children: {table: string; csv: string; rows: number}[]
  /** The `_parent_key` of every row of the file, as the child tables hold it (when there are children). */
  parentKeys?: string
  dir: string
}

/** Reads one staging file with DuckDB and writes what Postgres needs (see {@link StagedFile}). */
async function stageFile(db: DuckDB, file: string, key: string, options: LoadOptions, tempRoot: string): Promise<StagedFile> {
  const relation = /\.parquet$/i.test(key)
    ? `read_parquet(${sqlString(file)}, hive_partitioning = false)`
    : // As compact reads JSON: every line sampled (no field dropped), dates and times kept as the strings written.
      `read_json(${sqlString(file)}, format = 'newline_delimited', hive_partitioning = false, sample_size = -1, dateformat = 'disabled', timestampformat = 'disabled')`
  const described = await db.connection.run(`SELECT * FROM ${relation} LIMIT 0`)
  const names = described.columnNames()
  const types = described.columnTypes()
  const hive = hiveColumns(key).filter(([name]) => !names.includes(name))
  const source = hive.length > 0 ? `(SELECT *, ${hive.map(([name, value]) => `${sqlString(value)} AS ${sqlIdentifier(name)}`).join(', ')} FROM ${relation})` : relation
  // An empty JSON Lines file reads as one VARCHAR column `json` and no rows: loaded as nothing (a ledger row).
  if (names.length === 1 && names[0] === 'json' && (await db.query<{n: number}>(`SELECT count(*)::INTEGER AS n FROM ${relation}`))[0].n === 0) {
    return {plan: {columns: [], key: [], children: []}, rows: 0, csv: '', children: [], dir: ''}
  }
  const columns: {name: string; type: DuckDBType}[] = names.map((name, i) => ({name, type: types[i]}))
  if (hive.length > 0) {
    const typed = await db.connection.run(`SELECT * FROM ${source} LIMIT 0`)
    columns.push(...hive.map(([name]) => ({name, type: typed.columnTypes()[typed.columnNames().indexOf(name)]})))
  }
  let plan: FilePlan
  try {
    plan = planFile(options.table, columns, options.key, options.normalize ?? false)
  } catch (error) {
    const missing = (error as {missingKey?: string}).missingKey
    if (!missing) throw error
    throw new UserError(`${key}: the record key ${sqlIdentifier(missing)} is not a column (or struct field) of this file; nothing of it was loaded.`, {
      code: 'LOAD_KEY_MISSING',
      nextSteps: [`Name the key with --key (a column, or a dotted path into a struct column); the file's columns: ${names.join(', ')}.`],
      details: {file: key, key: missing},
    })
  }
  const keyExprs = plan.key.map((name) => plan.columns.find((column) => column.name === name)!.expr)
  // One pass over the file: rows without a key, and the values of each column whose type is only DuckDB's guess.
  const guessed = plan.columns.filter((column) => column.fileType === 'JSON')
  const [counts] = await db.query<Record<string, number>>(
    `SELECT count(*) FILTER (WHERE ${keyExprs.map((expr) => `${expr} IS NULL`).join(' OR ')})::INTEGER AS n${guessed.map((column, i) => `, count(${column.expr})::BIGINT AS c${i}`).join('')} FROM ${source} f`,
  )
  markAllNull(guessed, counts)
  const keyless = Number(counts.n)
  if (keyless > 0) {
    throw new UserError(`${key}: ${keyless} row(s) have no value in the record key (${options.key.join(', ')}); nothing of this file was loaded.`, {
      code: 'LOAD_NULL_KEY',
      nextSteps: ['Fix the rows upstream, or choose a --key that every row has.'],
      details: {file: key, rows: keyless},
    })
  }
  // One row per key, the file's last one winning (insertion order kept, so row_number() follows the file).
  await db.run(
    `CREATE OR REPLACE TEMP TABLE f AS SELECT * EXCLUDE (_bw_row) FROM (SELECT *, row_number() OVER () AS _bw_row FROM ${source}) f QUALIFY row_number() OVER (PARTITION BY ${keyExprs.join(', ')} ORDER BY _bw_row DESC) = 1`,
  )
  const dir = await fs.mkdtemp(path.join(tempRoot, 'bw-load-'))
  const csv = path.join(dir, 'table.csv')
  const copied = await db.connection.run(`COPY (SELECT ${selectList(plan.columns)} FROM f) TO ${sqlString(csv)} (FORMAT csv, HEADER false)`)
  const children: StagedFile['children'] = []
  for (const [i, child] of plan.children.entries()) {
    const childCsv = path.join(dir, `child_${i}.csv`)
    const unnested = `(SELECT ${parentKeyExpr(plan)} AS _parent_key, generate_subscripts(${child.list}, 1) - 1 AS _pos, unnest(${child.list}) AS _e FROM f) c`
    const written = await db.connection.run(`COPY (SELECT ${selectList(child.columns)} FROM ${unnested}) TO ${sqlString(childCsv)} (FORMAT csv, HEADER false)`)
    children.push({table: child.table, csv: childCsv, rows: Number(written.rowsChanged)})
  }
  let parentKeys: string | undefined
  if (plan.children.length > 0) {
    parentKeys = path.join(dir, 'parent_keys.csv')
    await db.run(`COPY (SELECT ${parentKeyExpr(plan)} AS _parent_key FROM f) TO ${sqlString(parentKeys)} (FORMAT csv, HEADER false)`)
  }
  await db.run('DROP TABLE f')
  return {plan, rows: Number(copied.rowsChanged), csv, children, parentKeys, dir}
}

const selectList = (columns: PlannedColumn[]) => columns.map((column) => `${column.expr} AS ${sqlIdentifier(column.name)}`).join(', ')

/** A table's columns and types as Postgres spells them (`format_type`), or `undefined` when there is no table. */
async function tableColumns(client: Client, qualified: string): Promise<Map<string, string> | undefined> {
  const exists = await client.query<{oid: string | null}>('SELECT to_regclass($1)::oid AS oid', [qualified])
  if (!exists.rows[0].oid) return undefined
  const {rows} = await client.query<{name: string; type: string}>(
    'SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum',
    [exists.rows[0].oid],
  )
  return new Map(rows.map((row) => [row.name, row.type]))
}

/** The primary key's columns of a table. */
async function primaryKey(client: Client, qualified: string): Promise<string[]> {
  const {rows} = await client.query<{name: string}>(
    `SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)`,
    [qualified],
  )
  return rows.map((row) => row.name)
}

/**
 * Marks the JSON-typed columns whose every value is null ({@link PlannedColumn.allNull}): in JSON Lines, a field that
 * is null in every line of a file has no type to read, and DuckDB calls it JSON — which is not the file saying so.
 * `counts` holds `c<i>`, the non-null values of `guessed[i]`.
 */
function markAllNull(guessed: PlannedColumn[], counts: Record<string, number>): void {
  for (const [i, column] of guessed.entries()) if (Number(counts[`c${i}`]) === 0) column.allNull = true
}

/**
 * Brings a table in step with a file's columns, inside the file's transaction: creates it (the key as primary key),
 * adds a nullable column for each new field, widens a column whose values the file's would not fit (integer →
 * bigint, real → double precision…), and refuses a type that cannot be widened without loss. Returns what changed.
 */
async function evolveTable(client: Client, schema: string, table: string, columns: PlannedColumn[], key: string[], file: string): Promise<TableChange> {
  const qualified = `${quote(schema)}.${quote(table)}`
  const existing = await tableColumns(client, qualified)
  const casts = new Map<string, string>()
  // A column null in every row of the file, with no type of its own (see markAllNull): nulls into the table's column
  // when it has one, else left out — the file says nothing about what type the column would have.
  const omit = new Set<string>()
  for (const column of columns) if (column.allNull && !key.includes(column.name) && !existing?.has(column.name)) omit.add(column.name)
  if (!existing) {
    // Text key columns compare bytewise (COLLATE "C"), as etl's tables: a locale-aware primary key made every
    // index insert of an upsert several times slower, and keys have no linguistic order to keep.
    const definitions = columns
      .filter((column) => !omit.has(column.name))
      .map((column) => {
        const keyed = key.includes(column.name)
        return `${quote(column.name)} ${column.pgType}${keyed && column.pgType === 'text' ? ' COLLATE "C"' : ''}${keyed ? ' NOT NULL' : ''}`
      })
    await client.query(`CREATE TABLE ${qualified} (${definitions.join(', ')}, PRIMARY KEY (${key.map(quote).join(', ')}))`)
    return {created: true, added: [], widened: [], casts, omit}
  }
  const tableKey = await primaryKey(client, qualified)
  if (tableKey.join('\0') !== key.join('\0')) {
    throw new UserError(`Table ${qualified} has the primary key (${tableKey.join(', ') || 'none'}), not the record key (${key.join(', ')}) that ${file} is loaded on; nothing of it was loaded.`, {
      code: 'LOAD_KEY_MISMATCH',
      nextSteps: [`Load with --key ${tableKey.join(',') || "<the table's key>"}, or into another --table.`],
      details: {file, table: `${schema}.${table}`, tableKey, key},
    })
  }
  const added: string[] = []
  const widened: string[] = []
  for (const column of columns) {
    if (omit.has(column.name)) continue
    const type = existing.get(column.name)
    if (column.allNull && type !== undefined && !key.includes(column.name)) {
      casts.set(column.name, `NULL::${type}`)
      continue
    }
    if (type === undefined) {
      await client.query(`ALTER TABLE ${qualified} ADD COLUMN ${quote(column.name)} ${column.pgType}`)
      added.push(`${table}.${column.name}`)
      continue
    }
    if (fitsIn(type, column.pgType)) {
      // A jsonb column takes any value as JSON; text takes the value's text (an assignment cast).
      if (type === 'jsonb' && column.pgType !== 'jsonb') casts.set(column.name, `to_jsonb(${quote(column.name)})`)
      // A JSON scalar into text: its value ("lots" → lots), not its JSON spelling.
      if (type === 'text' && column.pgType === 'jsonb') casts.set(column.name, `(${quote(column.name)} #>> '{}')`)
      continue
    }
    const wider = widenedType(type, column.pgType)
    if (wider) {
      await client.query(`ALTER TABLE ${qualified} ALTER COLUMN ${quote(column.name)} TYPE ${wider}`)
      widened.push(`${table}.${column.name}: ${type} → ${wider}`)
      continue
    }
    // JSON: DuckDB's type for a field whose values mix types (numbers and strings); text holds each one's text.
    const holdsBoth = column.pgType === 'jsonb' ? 'text' : column.pgType
    const fileType = column.fileType === column.pgType.toUpperCase() ? column.pgType : `${column.fileType} values (${column.pgType})`
    throw new UserError(
      `${file}: column "${column.name}" of ${qualified} is ${type}, but this file has ${fileType.endsWith(')') ? fileType : `${fileType} values`}, which ${type} cannot hold without loss; nothing of ${file} was loaded.`,
      {
        code: 'LOAD_TYPE_CONFLICT',
        nextSteps: [
          `If the column should hold these values, change its type first (ALTER TABLE ${qualified} ALTER COLUMN ${quote(column.name)} TYPE ${holdsBoth} USING ${quote(column.name)}::${holdsBoth}) and run load again.`,
          `Otherwise fix ${file} upstream, or load it into another --table.`,
        ],
        details: {file, table: `${schema}.${table}`, column: column.name, tableType: type, fileType: column.fileType},
      },
    )
  }
  return {created: false, added, widened, casts, omit}
}

/** What {@link evolveTable} changed, and how the staged columns are inserted where they differ from the table. */
interface TableChange {
  created: boolean
  added: string[]
  widened: string[]
  /** Column → SQL expression over the staged column, where the table's type needs one (a value into jsonb). */
  casts: Map<string, string>
  /** Columns of the file the table does not get (null in every row, and not in the table). */
  omit: Set<string>
}

/**
 * Puts a staged CSV into the table: straight COPY when every key is new, else COPY into a temporary table of the
 * file's types and `INSERT … ON CONFLICT (key) DO UPDATE` (`upsertKey`), or plain INSERT (child rows, whose parents'
 * old rows were deleted first).
 */
async function insertStaged(client: Client, stage: string, target: string, staged: PlannedColumn[], csv: string, change: Pick<TableChange, 'casts' | 'omit'>, upsertKey?: string[]): Promise<void> {
  const {from} = await import('pg-copy-streams')
  const {casts, omit} = change
  const columns = staged.filter((column) => !omit.has(column.name))
  const names = columns.map((column) => quote(column.name))
  if (casts.size === 0 && omit.size === 0) {
    // New keys, the usual case (the file's own duplicates were merged by DuckDB): COPY straight into the table inside
    // a savepoint. Only when the primary key refuses a row already there is it rolled back for the general way.
    await client.query('SAVEPOINT direct')
    try {
      await pipeline(createReadStream(csv), client.query(from(`COPY ${target} (${names.join(', ')}) FROM STDIN (FORMAT csv)`)))
      await client.query('RELEASE SAVEPOINT direct')
      return
    } catch (error) {
      if ((error as {code?: string}).code !== '23505' || !upsertKey) throw error
      await client.query('ROLLBACK TO SAVEPOINT direct')
    }
  }
  await client.query(`CREATE TEMPORARY TABLE ${stage} (${staged.map((column) => `${quote(column.name)} ${column.pgType}`).join(', ')}) ON COMMIT DROP`)
  await pipeline(createReadStream(csv), client.query(from(`COPY ${stage} FROM STDIN (FORMAT csv)`)))
  const values = columns.map((column) => casts.get(column.name) ?? quote(column.name))
  let conflict = ''
  if (upsertKey) {
    const updates = columns.filter((column) => !upsertKey.includes(column.name)).map((column) => `${quote(column.name)} = EXCLUDED.${quote(column.name)}`)
    // A row the table holds already, byte for byte (`*=`), is left as it is: a file loaded again (compact's day file
    // with late rows merged in) rewrites only the rows that changed. A column the file lacks is NULL in EXCLUDED, so a
    // row with a value there is updated as before (its other columns set, that one kept).
    conflict = `ON CONFLICT (${upsertKey.map(quote).join(', ')}) ${updates.length > 0 ? `DO UPDATE SET ${updates.join(', ')} WHERE NOT (bw_old.* *= EXCLUDED.*)` : 'DO NOTHING'}`
  }
  await client.query(`INSERT INTO ${target} AS bw_old (${names.join(', ')}) SELECT ${values.join(', ')} FROM ${stage} ${conflict}`)
}

/**
 * Test hook, so that a kill inside a file's transaction is tested on the real binary: with
 * `BUCKETWRIGHT_TEST_HOLD_AT=before-commit:<n>` the process stops before committing its n-th file, its rows written
 * and the table's lock held, until it is killed.
 */
async function holdBeforeCommit(n: number): Promise<void> {
  if (process.env.BUCKETWRIGHT_TEST_HOLD_AT === `before-commit:${n}`) await new Promise(() => setInterval(() => {}, 60_000))
}

/** Connects and creates the schema and the ledger when missing. */
async function connect(url: string, schema: string): Promise<Client> {
  const {default: pg} = await import('pg')
  const client = new pg.Client({connectionString: url, application_name: 'bucketwright load'})
  try {
    await client.connect()
  } catch (error) {
    throw new RemoteError(`Cannot connect to Postgres at ${redactConnectionString(url)}: ${(error as Error).message}`, {
      code: 'PG_CONNECT',
      nextSteps: ['Check host, port, database, user and password in the postgres:// URL, and that the server accepts connections.'],
    })
  }
  client.on('error', () => {})
  try {
    // CREATE … IF NOT EXISTS is not safe against a concurrent twin: the DDL runs under an advisory lock.
    await client.query('BEGIN')
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', ['bucketwright load ddl'])
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quote(schema)}`)
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${quote(schema)}.${quote(LOAD_LEDGER_TABLE)} (target_table text NOT NULL, file text NOT NULL, etag text NOT NULL, rows bigint NOT NULL, schema_version integer NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (target_table, file, etag))`,
    )
    await client.query('COMMIT')
  } catch (error) {
    await client.end().catch(() => {})
    throw error
  }
  return client
}

/**
 * Loads one staged file in one transaction: a transaction-scoped advisory lock on the table (loaders of one table
 * take turns, so schema changes never race), the ledger check, the schema brought in step, the rows COPYed into a
 * temporary table and upserted (`INSERT … ON CONFLICT (key) DO UPDATE`), each child table's rows of the file's
 * parents replaced, and the ledger row with the schema version. A second loader waits on the lock and then finds
 * the ledger row; a killed loader's transaction is rolled back by the server.
 */
async function loadStaged(client: Client, staged: StagedFile, info: ObjectInfo, identity: string, options: LoadOptions, ordinal: number): Promise<LoadFileResult> {
  const {from: copyFrom} = await import('pg-copy-streams')
  const schema = options.schema ?? 'public'
  const ledger = `${quote(schema)}.${quote(LOAD_LEDGER_TABLE)}`
  const target = `${quote(schema)}.${quote(options.table)}`
  const {plan} = staged
  await client.query('BEGIN')
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`bucketwright load ${schema}.${options.table}`])
    const done = await client.query('SELECT schema_version FROM ' + ledger + ' WHERE target_table = $1 AND file = $2 AND etag = $3', [options.table, info.key, identity])
    if (done.rowCount) {
      await client.query('ROLLBACK')
      return {file: info.key, status: 'already-loaded', rows: 0, schemaVersion: done.rows[0].schema_version}
    }
    if (plan.columns.length === 0) {
      const {rows} = await client.query<{version: number}>(`SELECT coalesce(max(schema_version), 0)::int AS version FROM ${ledger} WHERE target_table = $1`, [options.table])
      await client.query(`INSERT INTO ${ledger} (target_table, file, etag, rows, schema_version) VALUES ($1, $2, $3, 0, $4)`, [options.table, info.key, identity, rows[0].version])
      await client.query('COMMIT')
      return {file: info.key, status: 'loaded', rows: 0, schemaVersion: rows[0].version}
    }
    const changes = {created: false, added: [] as string[], widened: [] as string[]}
    const evolve = async (table: string, columns: PlannedColumn[], key: string[]) => {
      const change = await evolveTable(client, schema, table, columns, key, info.key)
      changes.created ||= change.created
      changes.added.push(...change.added)
      changes.widened.push(...change.widened)
      return change
    }
    const change = await evolve(options.table, plan.columns, plan.key)
    const childChanges = []
    for (const child of plan.children) childChanges.push(await evolve(child.table, child.columns, ['_parent_key', '_pos']))
    const {rows} = await client.query<{version: number}>(`SELECT coalesce(max(schema_version), 0)::int AS version FROM ${ledger} WHERE target_table = $1`, [options.table])
    const changed = changes.created || changes.added.length > 0 || changes.widened.length > 0
    const schemaVersion = rows[0].version === 0 ? 1 : rows[0].version + (changed ? 1 : 0)

    await insertStaged(client, 'bw_load_stage', target, plan.columns, staged.csv, change, plan.key)
    const children: Record<string, number> = {}
    for (const [i, child] of plan.children.entries()) {
      const childTable = `${quote(schema)}.${quote(child.table)}`
      // Kept in step: the file's parents get exactly the elements they have now (none for an empty or null list).
      if (i === 0) {
        await client.query(`CREATE TEMPORARY TABLE bw_load_parent_keys (_parent_key ${child.columns[0].pgType}) ON COMMIT DROP`)
        await pipeline(createReadStream(staged.parentKeys!), client.query(copyFrom('COPY bw_load_parent_keys FROM STDIN (FORMAT csv)')))
      }
      await client.query(`DELETE FROM ${childTable} c USING bw_load_parent_keys s WHERE c._parent_key = s._parent_key`)
      await insertStaged(client, `bw_load_child_${i}`, childTable, child.columns, staged.children[i].csv, childChanges[i])
      children[child.table] = staged.children[i].rows
    }
    await holdBeforeCommit(ordinal)
    await client.query(`INSERT INTO ${ledger} (target_table, file, etag, rows, schema_version) VALUES ($1, $2, $3, $4, $5)`, [options.table, info.key, identity, staged.rows, schemaVersion])
    await client.query('COMMIT')
    return {
      file: info.key,
      status: 'loaded',
      rows: staged.rows,
      children: plan.children.length > 0 ? children : undefined,
      added: changes.added.length > 0 ? changes.added : undefined,
      widened: changes.widened.length > 0 ? changes.widened : undefined,
      schemaVersion,
    }
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    if (error instanceof BucketwrightError) throw error
    throw new RemoteError(`Loading ${info.key} into ${target} failed and was rolled back: ${(error as Error).message}`, {
      code: 'PG_LOAD_FAILED',
      nextSteps: ['Nothing of the file was loaded; run load again once the cause is fixed.'],
      cause: error,
      details: {file: info.key},
    })
  }
}

/**
 * Loads every staging file under the location into the table, in key order, each exactly once (the ledger names
 * the file and its ETag: a file replaced later — compact merging late data into `compacted/<day>.parquet` — is
 * loaded again, and its rows upserted). Stops at the first file that fails, so that no later file's rows are
 * overwritten by an earlier one's on the next run; the files after it are `not-reached`.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const {staging, logger} = options
  const target = redactConnectionString(options.url)
  const tempRoot = options.tempRoot ?? os.tmpdir()
  const result: LoadResult = {location: staging.uri, target, table: options.table, key: options.key, files: [], totals: {files: 0, loaded: 0, alreadyLoaded: 0, failed: 0, rows: 0}}
  const files = await listStaging(staging)
  result.totals.files = files.length
  if (files.length === 0) logger?.warn(`No Parquet or JSON Lines files under ${staging.uri}.`)
  const client = await connect(options.url, options.schema ?? 'public')
  const spool = new Spool(staging, {budgetBytes: options.diskBudget, tempRoot})
  let db: DuckDB | undefined
  let ordinal = 0
  /**
   * A file made ready: the ledger check (on the connection, never while a file's transaction uses it), then — when
   * not loaded — the file spooled, staged by DuckDB and released from the spool, in the background. Never rejects:
   * an error belongs to that file and is thrown when its turn comes.
   */
  const ready = async (info: ObjectInfo): Promise<{identity: string; already?: boolean; staging?: Promise<StagedFile | {error: unknown}>; error?: unknown}> => {
    const identity = info.etag ?? `${info.size}-${info.lastModified.getTime()}`
    try {
      // A file already in the ledger is not read at all: a rerun over a loaded staging area costs one query a file.
      if (await alreadyLoaded(client, options, info.key, identity)) return {identity, already: true}
    } catch (error) {
      return {identity, error}
    }
    const staging = (async () => {
      const local = await spool.path(info.key, info.size)
      try {
        return await stageFile(db!, local, info.key, options, tempRoot)
      } finally {
        await spool.release(local)
      }
    })().catch((error: unknown) => ({error}))
    return {identity, staging}
  }
  /** Waits for a file made ready ahead and removes what it staged (a run that stops before loading it). */
  const discard = async (pending: Awaited<ReturnType<typeof ready>> | undefined) => {
    const staged = await pending?.staging
    if (staged && 'dir' in staged && staged.dir) await fs.rm(staged.dir, {recursive: true, force: true})
  }
  let next: Awaited<ReturnType<typeof ready>> | undefined
  try {
    db = await openDuckDB({memoryLimit: options.memoryLimit ?? '512MB', threads: 2})
    await db.run(`SET preserve_insertion_order = true; SET TimeZone = 'UTC'`)
    if (files.length > 0) next = await ready(files[0])
    for (const [index, info] of files.entries()) {
      const current = next!
      next = undefined
      if (options.signal?.aborted) {
        await discard(current)
        for (const rest of files.slice(index)) result.files.push({file: rest.key, status: 'not-reached', rows: 0})
        break
      }
      let staged: StagedFile | undefined
      let fileResult: LoadFileResult
      try {
        if (current.error) throw current.error
        if (current.already) {
          fileResult = {file: info.key, status: 'already-loaded', rows: 0}
        } else {
          const outcome = await current.staging!
          if ('error' in outcome) throw outcome.error
          staged = outcome
          // DuckDB (in this process) stages the next file while Postgres loads this one, so the two work at once
          // rather than in turn. Its ledger check goes first, before this file's transaction takes the connection.
          if (index + 1 < files.length) next = await ready(files[index + 1])
          fileResult = await loadStaged(client, staged, info, current.identity, options, ++ordinal)
        }
      } catch (error) {
        await discard(next)
        next = undefined
        // What DuckDB cannot read is the file's problem (truncated Parquet, a line that is not JSON), not a remote one.
        const failure =
          error instanceof BucketwrightError
            ? error
            : new UserError(`${info.key}: cannot be read: ${(error as Error).message}; nothing of it was loaded.`, {
                code: 'LOAD_READ_FAILED',
                nextSteps: [`Check that ${info.key} is whole, valid Parquet or JSON Lines; replace or remove it and run load again.`],
                cause: error,
                details: {file: info.key},
              })
        fileResult = {file: info.key, status: 'failed', rows: 0, error: {code: failure.code ?? 'ERROR', message: failure.message, nextSteps: failure.nextSteps}}
        result.files.push(fileResult)
        result.totals.failed++
        options.onFile?.(fileResult)
        for (const rest of files.slice(index + 1)) result.files.push({file: rest.key, status: 'not-reached', rows: 0})
        throw failure
      } finally {
        if (staged?.dir) await fs.rm(staged.dir, {recursive: true, force: true})
      }
      if (!next && index + 1 < files.length) next = await ready(files[index + 1])
      if (fileResult.status === 'loaded') {
        result.totals.loaded++
        result.totals.rows += fileResult.rows
        logger?.info(
          `${info.key}: ${fileResult.rows} row(s) → ${options.table}${fileResult.added ? `; added ${fileResult.added.join(', ')}` : ''}${fileResult.widened ? `; widened ${fileResult.widened.join(', ')}` : ''}`,
        )
      } else {
        result.totals.alreadyLoaded++
        logger?.debug(`${info.key}: already loaded`)
      }
      result.files.push(fileResult)
      options.onFile?.(fileResult)
    }
  } catch (error) {
    // A failed file is reported in the result (the command exits 1); anything else stops the command.
    if (!(error instanceof BucketwrightError) || result.totals.failed === 0) throw error
  } finally {
    await discard(next).catch(() => {})
    await db?.close()
    await spool.close()
    await client.end().catch(() => {})
  }
  return result
}

async function alreadyLoaded(client: Client, options: LoadOptions, file: string, identity: string): Promise<boolean> {
  const {rowCount} = await client.query(`SELECT 1 FROM ${quote(options.schema ?? 'public')}.${quote(LOAD_LEDGER_TABLE)} WHERE target_table = $1 AND file = $2 AND etag = $3`, [options.table, file, identity])
  return Boolean(rowCount)
}
