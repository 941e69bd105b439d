import type {DataSource, JsonSchema} from '../sources/types.js'
import type {OutputFile} from './outputs.js'
import type {AthenaDdlResult} from './result.js'

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/

/** Backquotes a Hive identifier (Athena lowercases column names; the JSON SerDe matches case-insensitively). */
function hiveName(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``
}

/** A column in a query (Athena's Trino engine): double quotes, lowercase as Athena stores column names. */
function queryName(name: string): string {
  return `"${name.toLowerCase().replaceAll('"', '""')}"`
}

/** The non-null JSON types a schema allows (`["integer", "null"]` → `["integer"]`). */
function typesOf(schema: JsonSchema): string[] {
  const declared = schema.type
  const list = Array.isArray(declared) ? (declared as string[]) : typeof declared === 'string' ? [declared] : []
  const fromUnion = ([...((schema.anyOf as JsonSchema[]) ?? []), ...((schema.oneOf as JsonSchema[]) ?? [])] as JsonSchema[]).flatMap(typesOf)
  return [...new Set([...list, ...fromUnion])].filter((type) => type !== 'null')
}

/**
 * Maps a JSON Schema to a Hive type for the OpenX JSON SerDe: integer → BIGINT, number → DOUBLE (integer + number
 * → DOUBLE), boolean → BOOLEAN, object with properties → STRUCT, array → ARRAY, and STRING for strings (dates stay
 * ISO strings: the SerDe does not parse `…Z` timestamps reliably), mixed types and free-form objects.
 */
export function hiveType(schema: JsonSchema | undefined): string {
  if (!schema) return 'STRING'
  const types = typesOf(schema)
  if (types.length === 1 && types[0] === 'integer') return 'BIGINT'
  if (types.length > 0 && types.every((type) => type === 'integer' || type === 'number')) return 'DOUBLE'
  if (types.length === 1 && types[0] === 'boolean') return 'BOOLEAN'
  if (types.length === 1 && types[0] === 'array') return `ARRAY<${hiveType(schema.items as JsonSchema | undefined)}>`
  if (types.length === 1 && types[0] === 'object') {
    const properties = Object.entries((schema.properties as Record<string, JsonSchema>) ?? {})
    if (properties.length === 0) return 'STRING'
    return `STRUCT<${properties.map(([name, property]) => `${hiveName(name)}:${hiveType(property)}`).join(', ')}>`
  }
  return 'STRING'
}

/** A SQL name for the table: the source's name with `_` for anything Athena does not take. */
export function athenaTableName(source: DataSource): string {
  const name = source.name.toLowerCase().replace(/[^a-z0-9_]/g, '_')
  return IDENTIFIER.test(name) ? name : `t_${name}`
}

/**
 * The Athena table over a converted JSONL layout (OpenX JSON SerDe, columns from the source's schema), and the
 * queries that check it at scale: records per bucket against the manifests' counts, and duplicates on the record
 * key — what `verify` does locally, for when the dataset is too large to read through one machine.
 */
export function athenaDdl(source: DataSource, outputUri: string, files: OutputFile[]): AthenaDdlResult {
  const table = athenaTableName(source)
  const properties = Object.entries(((source.schema?.properties as Record<string, JsonSchema>) ?? {}) as Record<string, JsonSchema>)
  const columns = properties.length > 0 ? properties.map(([name, property]) => `  ${hiveName(name)} ${hiveType(property)}`) : ['  `record` STRING']
  const notes = [
    'Athena and Hive skip objects under prefixes that start with "_" or ".", so the manifests under _manifests/ are not read as data.',
    'Gzip JSONL (.jsonl.gz) is read transparently; every line is one record.',
    'Timestamps are kept as ISO 8601 strings; use from_iso8601_timestamp(col) in queries.',
  ]
  if (!outputUri.startsWith('s3://')) notes.push(`${outputUri} is not an S3 location: upload the outputs and use their s3:// prefix as LOCATION.`)
  if (files.some((file) => file.format === 'parquet')) notes.push('Some outputs are Parquet: Athena needs one table per format; this DDL covers the JSONL outputs.')
  const ddl = [
    `CREATE EXTERNAL TABLE IF NOT EXISTS ${table} (`,
    columns.join(',\n'),
    ')',
    "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'",
    "WITH SERDEPROPERTIES ('ignore.malformed.json' = 'false', 'case.insensitive' = 'true')",
    "STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'",
    "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'",
    `LOCATION '${outputUri.replaceAll("'", "''")}'`,
    "TBLPROPERTIES ('bucketwright.source' = '" + source.name.replaceAll("'", "''") + "');",
  ].join('\n')

  const bucketExpression = `regexp_extract("$path", '([^/]+?)\\.(jsonl|ndjson)(\\.gz|\\.zst)?$', 1)`
  const expected = files
    .filter((file) => file.manifest && file.format === 'jsonl')
    .map(
      (file) =>
        `    ('${file.key
          .split('/')
          .pop()!
          .replace(/\.(jsonl|ndjson)(\.gz|\.zst)?$/, '')
          .replaceAll("'", "''")}', ${file.manifest!.counts.records})`,
    )
  const queries: AthenaDdlResult['queries'] = [
    {
      name: 'records-per-bucket',
      description: 'Records per output file (one file per bucket).',
      sql: `SELECT ${bucketExpression} AS bucket, count(*) AS records\nFROM ${table}\nGROUP BY 1\nORDER BY 1;`,
    },
  ]
  if (expected.length > 0) {
    queries.push({
      name: 'counts-vs-manifests',
      description: 'Buckets whose record count differs from their manifest (expect no rows).',
      sql: [
        `WITH expected (bucket, records) AS (\n  VALUES\n${expected.join(',\n')}\n),`,
        `actual AS (\n  SELECT ${bucketExpression} AS bucket, count(*) AS records FROM ${table} GROUP BY 1\n)`,
        'SELECT coalesce(e.bucket, a.bucket) AS bucket, e.records AS manifest_records, a.records AS table_records',
        'FROM expected e FULL OUTER JOIN actual a ON e.bucket = a.bucket',
        'WHERE e.records IS DISTINCT FROM a.records',
        'ORDER BY 1;',
      ].join('\n'),
    })
  }
  if (source.timeField && properties.some(([name]) => name === source.timeField)) {
    queries.push({
      name: 'records-per-week',
      description: 'Records per ISO week of the time field, to compare with the per-bucket counts.',
      sql: `SELECT date_format(from_iso8601_timestamp(${queryName(source.timeField)}), '%x-W%v') AS week, count(*) AS records\nFROM ${table}\nGROUP BY 1\nORDER BY 1;`,
    })
  }
  if (source.recordKey?.length) {
    const key = source.recordKey.map(queryName).join(', ')
    queries.push({
      name: 'duplicates',
      description: `Records sharing the record key ${source.recordKey.join(' + ')} (expect no rows).`,
      sql: `SELECT ${key}, count(*) AS copies\nFROM ${table}\nGROUP BY ${key}\nHAVING count(*) > 1\nORDER BY copies DESC\nLIMIT 100;`,
    })
  }
  return {resultVersion: 1, mode: 'athena-ddl', output: outputUri, source: source.name, table, ddl, queries, notes}
}
