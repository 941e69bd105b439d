import {UsageError} from '../errors/errors.js'
import type {Channel, DataSource} from '../sources/types.js'

/** One column of a channel table, with its DuckDB/Parquet type and its Postgres type. */
export interface TableColumn {
  name: string
  sqlType: string
  pgType: string
}

/** The table a channel's records go to: columns from the channel schema, the record key and the partitions. */
export interface ChannelTable {
  channel: string
  columns: TableColumn[]
  recordKey: string[]
  partitionBy: string[]
}

const PG_TYPES: Record<string, string> = {
  VARCHAR: 'text',
  BIGINT: 'bigint',
  INTEGER: 'integer',
  DOUBLE: 'double precision',
  BOOLEAN: 'boolean',
  DATE: 'date',
  TIMESTAMPTZ: 'timestamptz',
  TIMESTAMP: 'timestamp',
  JSON: 'jsonb',
}

function sqlTypeOf(property: Record<string, unknown>): string {
  if (typeof property['x-sql-type'] === 'string') return property['x-sql-type']
  const types = (Array.isArray(property.type) ? property.type : [property.type]).filter((type) => type !== 'null')
  const type = types[0]
  if (type === 'string') return property.format === 'date-time' ? 'TIMESTAMPTZ' : property.format === 'date' ? 'DATE' : 'VARCHAR'
  if (type === 'integer') return 'BIGINT'
  if (type === 'number') return 'DOUBLE'
  if (type === 'boolean') return 'BOOLEAN'
  return 'JSON'
}

function pgTypeOf(sqlType: string): string {
  // Unconstrained numeric keeps every digit (and the scale as sent); Parquet needs a fixed DECIMAL(p,s).
  if (sqlType.startsWith('DECIMAL')) return 'numeric'
  return PG_TYPES[sqlType] ?? 'text'
}

/** The tables of a source: one per channel, typed from each channel's JSON Schema. */
export function channelTables(source: DataSource): ChannelTable[] {
  const channels: Channel[] = source.channels ?? [{name: source.name, schema: source.schema, recordKey: source.recordKey, partitionBy: source.partitionBy}]
  return channels.map((channel) => {
    const schema = channel.schema ?? source.schema
    const properties = (schema?.properties ?? undefined) as Record<string, Record<string, unknown>> | undefined
    if (!properties) {
      throw new UsageError(`Source "${source.name}" declares no schema for channel "${channel.name}"; etl needs one to type its columns.`, {
        code: 'NO_CHANNEL_SCHEMA',
        nextSteps: ["Give the channel a JSON Schema with its properties (the source plugin's `channels[].schema`)."],
      })
    }
    const columns = Object.entries(properties).map(([name, property]) => {
      const sqlType = sqlTypeOf(property)
      return {name, sqlType, pgType: pgTypeOf(sqlType)}
    })
    const partitionBy = channel.partitionBy ?? source.partitionBy ?? []
    const recordKey = channel.recordKey ?? source.recordKey ?? []
    for (const name of [...partitionBy, ...recordKey]) {
      if (!columns.some((column) => column.name === name)) throw new UsageError(`Channel "${channel.name}" of "${source.name}" partitions or keys on "${name}", which its schema lacks.`, {code: 'BAD_CHANNEL_SCHEMA'})
    }
    return {channel: channel.name, columns, recordKey, partitionBy}
  })
}

/** A value as the text COPY reads for it (objects as JSON), or null. */
export function fieldText(value: unknown): string | null {
  if (value === null || value === undefined) return null
  return typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value)
}

/** A CSV field (RFC 4180): empty and unquoted for null, quoted when it holds a comma, quote or line break. */
export function csvField(value: unknown): string {
  const text = fieldText(value)
  if (text === null) return ''
  if (text === '') return '""'
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code === 44 || code === 34 || code === 10 || code === 13) return `"${text.replaceAll('"', '""')}"`
  }
  return text
}

/** A function turning a record into one CSV line of the table's columns, in order. */
export function csvRowWriter(table: ChannelTable): (record: Record<string, unknown>) => string {
  const names = table.columns.map((column) => column.name)
  const last = names.length - 1
  return (record) => {
    let line = ''
    for (let i = 0; i < last; i++) line += csvField(record[names[i]]) + ','
    return line + csvField(record[names[last]]) + '\n'
  }
}
