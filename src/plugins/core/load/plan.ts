import type {DuckDBType} from '@duckdb/node-api'
import {createHash} from 'node:crypto'

import {sqlIdentifier} from '../duckdb/duckdb.js'

/**
 * One column of a Postgres table as a staging file fills it: its name, its Postgres type (as `format_type` spells
 * it, so it compares with the catalog) and the DuckDB expression giving its CSV text.
 */
export interface PlannedColumn {
  name: string
  pgType: string
  /** The file's type as DuckDB names it (for messages). */
  fileType: string
  /** DuckDB expression over the file's row `f` (in a child table: over `c`, with the list element `c._e`). */
  expr: string
  /**
   * Every value of the column is null in this file, and its type only DuckDB's guess (JSON Lines: JSON): the file
   * says nothing about the column's type, so it is never a type conflict and never creates or adds a column.
   */
  allNull?: boolean
}

/** A child table of `--normalize`: one row per element of a list column, keyed by the parent's key and position. */
export interface ChildPlan {
  /** `<table>__<field>` (struct fields joined by `__`). */
  table: string
  /** DuckDB expression of the list in the parent row. */
  list: string
  /** `_parent_key`, `_pos`, then the element's fields (or `value`). */
  columns: PlannedColumn[]
}

/** How one file maps onto the table (and its child tables). */
export interface FilePlan {
  columns: PlannedColumn[]
  key: string[]
  children: ChildPlan[]
}

/**
 * DuckDB type ids (DuckDBTypeId of @duckdb/node-api), named here so that the plan needs only the types, not the
 * heavy module, at load time.
 */
const TYPE = {
  BOOLEAN: 1,
  TINYINT: 2,
  SMALLINT: 3,
  INTEGER: 4,
  BIGINT: 5,
  UTINYINT: 6,
  USMALLINT: 7,
  UINTEGER: 8,
  UBIGINT: 9,
  FLOAT: 10,
  DOUBLE: 11,
  TIMESTAMP: 12,
  DATE: 13,
  TIME: 14,
  INTERVAL: 15,
  HUGEINT: 16,
  VARCHAR: 17,
  BLOB: 18,
  DECIMAL: 19,
  TIMESTAMP_S: 20,
  TIMESTAMP_MS: 21,
  TIMESTAMP_NS: 22,
  LIST: 24,
  STRUCT: 25,
  MAP: 26,
  UUID: 27,
  UNION: 28,
  TIMESTAMP_TZ: 31,
  ARRAY: 33,
  UHUGEINT: 32,
} as const

/** The Postgres type a DuckDB column goes to; nested values (struct, list, map) go to jsonb. */
export function pgTypeOf(type: DuckDBType): string {
  if (type.alias === 'JSON') return 'jsonb'
  switch (type.typeId as number) {
    case TYPE.BOOLEAN:
      return 'boolean'
    case TYPE.TINYINT:
    case TYPE.SMALLINT:
    case TYPE.UTINYINT:
      return 'smallint'
    case TYPE.INTEGER:
    case TYPE.USMALLINT:
      return 'integer'
    case TYPE.BIGINT:
    case TYPE.UINTEGER:
      return 'bigint'
    case TYPE.UBIGINT:
    case TYPE.HUGEINT:
    case TYPE.UHUGEINT:
    case TYPE.DECIMAL:
      return 'numeric'
    case TYPE.FLOAT:
      return 'real'
    case TYPE.DOUBLE:
      return 'double precision'
    case TYPE.DATE:
      return 'date'
    case TYPE.TIME:
      return 'time without time zone'
    case TYPE.TIMESTAMP:
    case TYPE.TIMESTAMP_S:
    case TYPE.TIMESTAMP_MS:
    case TYPE.TIMESTAMP_NS:
      return 'timestamp without time zone'
    case TYPE.TIMESTAMP_TZ:
      return 'timestamp with time zone'
    case TYPE.INTERVAL:
      return 'interval'
    case TYPE.UUID:
      return 'uuid'
    case TYPE.BLOB:
      return 'bytea'
    case TYPE.LIST:
    case TYPE.ARRAY:
    case TYPE.STRUCT:
    case TYPE.MAP:
    case TYPE.UNION:
      return 'jsonb'
    default:
      return 'text'
  }
}

/** The DuckDB expression writing a value as Postgres reads it from CSV. */
function csvExpr(expr: string, type: DuckDBType, pgType: string): string {
  if (pgType === 'jsonb') return type.alias === 'JSON' ? expr : `to_json(${expr})`
  if (pgType === 'bytea') return `'\\x' || hex(${expr})`
  return expr
}

/** A type's name for messages: JSON (DuckDB's type for a field of mixed or unknown types) or the SQL name. */
const fileTypeName = (type: DuckDBType) => (type.alias === 'JSON' ? 'JSON' : type.toString())

const isList = (type: DuckDBType) => type.typeId === TYPE.LIST || type.typeId === TYPE.ARRAY
const isStruct = (type: DuckDBType) => type.typeId === TYPE.STRUCT && type.alias !== 'JSON'

/** The entries of a struct type. */
function structEntries(type: DuckDBType): {name: string; type: DuckDBType}[] {
  const struct = type as unknown as {entryNames: string[]; entryTypes: DuckDBType[]}
  return struct.entryNames.map((name, i) => ({name, type: struct.entryTypes[i]}))
}

/** The type at a dotted path below the file's columns, or `undefined` when the path is not there. */
function typeAt(columns: {name: string; type: DuckDBType}[], path: string[]): DuckDBType | undefined {
  let entries = columns
  let found: DuckDBType | undefined
  for (const part of path) {
    found = entries.find((entry) => entry.name === part)?.type
    if (!found) return undefined
    entries = isStruct(found) ? structEntries(found) : []
  }
  return found
}

/** Postgres cuts identifiers at 63 bytes (NAMEDATALEN − 1), silently, so that two long names could collide. */
const MAX_IDENTIFIER_BYTES = 63

/**
 * A column or table name Postgres keeps as it is: a longer one (deep `__` paths) is cut and ends in 8 hex digits of
 * a hash of the whole name, the same for every file, so that each file maps the field to the same column.
 */
export function pgName(name: string): string {
  if (Buffer.byteLength(name) <= MAX_IDENTIFIER_BYTES) return name
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8)
  let cut = name
  while (Buffer.byteLength(cut) > MAX_IDENTIFIER_BYTES - 9) cut = cut.slice(0, -1)
  return `${cut}_${hash}`
}

const pathExpr = (base: string | undefined, path: string[]) => [...(base ? [base] : []), ...path.map(sqlIdentifier)].join('.')

/**
 * The plan of a file with these columns. The record key names columns, or dotted paths into struct columns
 * (`protocolSection.identificationModule.nctId`), which become columns of their own named with `__`
 * (`protocolSection__identificationModule__nctId`), as dlt names flattened fields. Without `normalize`, structs and
 * lists are jsonb columns; with it, struct fields are flattened into `<field>__<sub>` columns and each list becomes
 * a child table `<table>__<field>` (one row per element: the parent's key as `_parent_key` — a jsonb object of the
 * key columns when the key has several — and the element's position `_pos`; struct elements give a column per
 * field, nested lists and structs inside elements stay jsonb).
 */
export function planFile(table: string, columns: {name: string; type: DuckDBType}[], keyPaths: string[], normalize: boolean): FilePlan {
  const planned: PlannedColumn[] = []
  const children: ChildPlan[] = []
  const add = (name: string, expr: string, type: DuckDBType) => {
    const pgType = pgTypeOf(type)
    if (!planned.some((column) => column.name === name)) planned.push({name, pgType, fileType: fileTypeName(type), expr: csvExpr(expr, type, pgType)})
  }
  const key: string[] = []
  for (const keyPath of keyPaths) {
    const path = keyPath.split('.')
    const type = typeAt(columns, path)
    if (!type) throw Object.assign(new Error(`the record key "${keyPath}" is not in the file`), {missingKey: keyPath})
    const name = pgName(path.join('__'))
    add(name, pathExpr('f', path), type)
    key.push(name)
  }
  const visit = (path: string[], type: DuckDBType) => {
    const name = pgName(path.join('__'))
    if (normalize && isStruct(type) && structEntries(type).length > 0) {
      for (const entry of structEntries(type)) visit([...path, entry.name], entry.type)
    } else if (normalize && isList(type)) {
      children.push(childPlan(pgName(`${table}__${path.join('__')}`), pathExpr('f', path), type, key, planned))
    } else {
      add(name, pathExpr('f', path), type)
    }
  }
  for (const column of columns) visit([column.name], column.type)
  return {columns: planned, key, children}
}

function childPlan(table: string, list: string, type: DuckDBType, key: string[], parent: PlannedColumn[]): ChildPlan {
  const keyColumns = key.map((name) => parent.find((column) => column.name === name)!)
  const parentKey: PlannedColumn =
    keyColumns.length === 1 ? {name: '_parent_key', pgType: keyColumns[0].pgType, fileType: keyColumns[0].fileType, expr: 'c._parent_key'} : {name: '_parent_key', pgType: 'jsonb', fileType: 'JSON', expr: 'c._parent_key'}
  const columns: PlannedColumn[] = [parentKey, {name: '_pos', pgType: 'integer', fileType: 'INTEGER', expr: 'c._pos'}]
  const element = (type as unknown as {valueType: DuckDBType}).valueType
  if (isStruct(element) && structEntries(element).length > 0) {
    for (const entry of structEntries(element)) {
      if (entry.name === '_parent_key' || entry.name === '_pos') continue
      const pgType = pgTypeOf(entry.type)
      columns.push({name: pgName(entry.name), pgType, fileType: fileTypeName(entry.type), expr: csvExpr(pathExpr('c._e', [entry.name]), entry.type, pgType)})
    }
  } else {
    const pgType = pgTypeOf(element)
    columns.push({name: 'value', pgType, fileType: fileTypeName(element), expr: csvExpr('c._e', element, pgType)})
  }
  return {table, list, columns}
}

/** The DuckDB expression of a child row's `_parent_key` over the parent row. */
export function parentKeyExpr(plan: FilePlan): string {
  const exprs = plan.key.map((name) => plan.columns.find((column) => column.name === name)!.expr)
  if (exprs.length === 1) return exprs[0]
  return `to_json(struct_pack(${plan.key.map((name, i) => `${sqlIdentifier(name)} := ${exprs[i]}`).join(', ')}))`
}

const INTEGERS = ['smallint', 'integer', 'bigint', 'numeric']

/**
 * Whether a file's values of type `file` can be stored in a column of type `table` without loss: the same type,
 * a narrower integer into a wider one (or numeric), smallint/integer/real into double precision, anything into
 * text (its text is kept) or jsonb (as a JSON value).
 */
export function fitsIn(table: string, file: string): boolean {
  if (table === file || table === 'text' || table === 'jsonb') return true
  if (INTEGERS.includes(table) && INTEGERS.includes(file)) return INTEGERS.indexOf(file) <= INTEGERS.indexOf(table)
  if (table === 'double precision') return ['smallint', 'integer', 'real'].includes(file)
  return false
}

/**
 * The type a column of type `table` can be widened to, every value kept, so that a file's values of type `file`
 * fit: a wider integer (or numeric), or double precision for real; `undefined` when there is none.
 */
export function widenedType(table: string, file: string): string | undefined {
  if (INTEGERS.includes(table) && INTEGERS.includes(file) && INTEGERS.indexOf(file) > INTEGERS.indexOf(table)) return file
  if ((table === 'real' || table === 'smallint' || table === 'integer') && (file === 'double precision' || (table === 'real' && ['smallint', 'integer'].includes(file)))) return 'double precision'
  return undefined
}
