import {createReadStream} from 'node:fs'
import {pipeline} from 'node:stream/promises'
import type {Client} from 'pg'

import {RemoteError, UserError} from '../errors/errors.js'
import type {ChannelTable} from './columns.js'
import type {DecodedSegment, StagedChannel} from './decode-segment.js'
import type {EtlSink, SinkResult} from './parquet-sink.js'

/** The load ledger: one row per segment loaded, written in the same transaction as the segment's rows. */
export const LEDGER_TABLE = 'bucketwright_etl_ledger'

/** A Postgres connection string with its password replaced by `***`, safe to print. */
export function redactConnectionString(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    for (const name of ['password', 'sslpassword', 'sslkey']) if (parsed.searchParams.has(name)) parsed.searchParams.set(name, '***')
    return parsed.toString()
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@')
  }
}

/**
 * The record key in the order its primary-key index compares best: integer and time columns (cheap, and nearly
 * unique on their own) before text and numeric ones, so most index comparisons end at the first column. ON CONFLICT
 * names the same columns in any order.
 */
function indexOrder(table: ChannelTable): string[] {
  const rank = (name: string) => {
    const type = table.columns.find((column) => column.name === name)?.pgType
    return type === 'bigint' || type === 'integer' ? 0 : type === 'timestamptz' ? 1 : 2
  }
  return [...table.recordKey].sort((a, b) => rank(a) - rank(b))
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`

/** Options of {@link PostgresSink}. */
export interface PostgresSinkOptions {
  url: string
  source: string
  tables: ChannelTable[]
  /** Schema the tables live in (default `public`). */
  schema?: string
}

/**
 * Loads segments into Postgres tables named `<source>_<channel>` (created from the channel schema when missing, with
 * the record key as primary key). Each segment is one transaction: a transaction-scoped advisory lock on the
 * segment, a ledger check, the rows upserted per channel (see {@link loadChannel}), and the ledger row.
 * A second process loading the same segment waits on the lock, then finds the ledger row and loads nothing; a crash
 * rolls the whole segment back.
 */
export class PostgresSink implements EtlSink {
  readonly target: string
  private client?: Client
  private readonly schema: string

  constructor(private readonly options: PostgresSinkOptions) {
    this.target = redactConnectionString(options.url)
    this.schema = options.schema ?? 'public'
  }

  tableName(channel: string): string {
    return `${quote(this.schema)}.${quote(`${this.options.source}_${channel}`)}`
  }

  /** Connects and creates the schema, the ledger and the channel tables when missing (done by the first load too). */
  async prepare(): Promise<void> {
    await this.connect()
  }

  private async connect(): Promise<Client> {
    if (this.client) return this.client
    const {default: pg} = await import('pg')
    const client = new pg.Client({connectionString: this.options.url, application_name: 'bucketwright etl'})
    try {
      await client.connect()
    } catch (error) {
      throw new RemoteError(`Cannot connect to Postgres at ${this.target}: ${(error as Error).message}`, {
        code: 'PG_CONNECT',
        nextSteps: ['Check host, port, database, user and password in the postgres:// URL, and that the server accepts connections.'],
      })
    }
    client.on('error', () => {})
    try {
      // CREATE … IF NOT EXISTS is not safe against a concurrent twin (two etl processes starting together collide in
      // the catalog), so the DDL runs under a transaction-scoped advisory lock.
      await client.query('BEGIN')
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', ['bucketwright etl ddl'])
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quote(this.schema)}`)
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${quote(this.schema)}.${quote(LEDGER_TABLE)} (source text NOT NULL, segment text NOT NULL, etag text, rows bigint NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (source, segment))`,
      )
      for (const table of this.options.tables) {
        if (table.recordKey.length === 0) throw new UserError(`Channel ${table.channel} has no record key, so it cannot be upserted.`, {code: 'NO_RECORD_KEY'})
        // Key columns of text compare bytewise (COLLATE "C"): locale-aware comparison made every index insert of the
        // upsert several times slower, and identifiers like product ids have no linguistic order to keep.
        const columns = table.columns.map((column) => {
          const key = table.recordKey.includes(column.name)
          return `${quote(column.name)} ${column.pgType}${key && column.pgType === 'text' ? ' COLLATE "C"' : ''}${key ? ' NOT NULL' : ''}`
        })
        await client.query(`CREATE TABLE IF NOT EXISTS ${this.tableName(table.channel)} (${columns.join(', ')}, PRIMARY KEY (${indexOrder(table).map(quote).join(', ')}))`)
      }
      await client.query('COMMIT')
    } catch (error) {
      // A client left open would keep the process alive after the run.
      await client.end().catch(() => {})
      throw error
    }
    this.client = client
    return client
  }

  async load(decoded: DecodedSegment): Promise<SinkResult> {
    const client = await this.connect()
    const result: SinkResult = {rows: {}}
    await client.query('BEGIN')
    try {
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`bucketwright etl ${this.options.source}/${decoded.segment}`])
      const done = await client.query(`SELECT rows FROM ${quote(this.schema)}.${quote(LEDGER_TABLE)} WHERE source = $1 AND segment = $2`, [this.options.source, decoded.segment])
      if (done.rowCount) {
        await client.query('ROLLBACK')
        return {rows: {}, alreadyLoaded: true}
      }
      let total = 0
      for (const staged of decoded.channels) {
        result.rows[staged.table.channel] = staged.rows
        total += staged.rows
        if (staged.rows === 0) continue
        await this.loadChannel(client, staged)
      }
      await client.query(`INSERT INTO ${quote(this.schema)}.${quote(LEDGER_TABLE)} (source, segment, etag, rows) VALUES ($1, $2, $3, $4)`, [this.options.source, decoded.segment, decoded.etag ?? null, total])
      await client.query('COMMIT')
      return result
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {})
      throw new RemoteError(`Loading ${decoded.segment} into Postgres at ${this.target} failed and was rolled back: ${(error as Error).message}`, {
        code: 'PG_LOAD_FAILED',
        nextSteps: ['The segment stays in processing/; run etl again once the cause is fixed.'],
        cause: error,
      })
    }
  }

  /**
   * Loads one channel's staged rows. New records, the usual case, are COPYed straight into the table inside a
   * savepoint: the primary key refuses any record already there (or twice in the segment), and then — only then —
   * the savepoint is rolled back and the rows go the general way: COPY into a temporary table and
   * `INSERT … ON CONFLICT (key) DO UPDATE`, the segment's last line winning among its own duplicates. Either way the
   * table ends as an upsert of the segment; the fast way saves the second pass over every row. A segment whose first
   * or last record the table holds already ({@link holdsEdgeKey}) goes the general way at once: a straight COPY
   * refused at its last row would have written every row before it for nothing (one refused at its first row, a
   * batch of up to 1,000).
   */
  private async loadChannel(client: Client, staged: StagedChannel): Promise<void> {
    const {from} = await import('pg-copy-streams')
    const table = staged.table
    const target = this.tableName(table.channel)
    const names = table.columns.map((column) => quote(column.name))
    if (!(await this.holdsEdgeKey(client, staged, target))) {
      await client.query('SAVEPOINT direct')
      try {
        await pipeline(createReadStream(staged.file), client.query(from(`COPY ${target} (${names.join(', ')}) FROM STDIN (FORMAT csv)`)))
        await client.query('RELEASE SAVEPOINT direct')
        return
      } catch (error) {
        if ((error as {code?: string}).code !== '23505') throw error
        await client.query('ROLLBACK TO SAVEPOINT direct')
      }
    }
    const stage = quote(`bw_stage_${table.channel}`)
    await client.query(`CREATE TEMPORARY TABLE ${stage} (${table.columns.map((column) => `${quote(column.name)} ${column.pgType}`).join(', ')}) ON COMMIT DROP`)
    await pipeline(createReadStream(staged.file), client.query(from(`COPY ${stage} FROM STDIN (FORMAT csv)`)))
    const key = table.recordKey.map(quote).join(', ')
    const updates = table.columns.filter((column) => !table.recordKey.includes(column.name)).map((column) => `${quote(column.name)} = EXCLUDED.${quote(column.name)}`)
    // A record the table holds already, byte for byte (`*=`: numeric scale and JSON text included), is left as it
    // is: no new row version, no index entry, next to no WAL — a segment delivered again costs little.
    const onConflict = `ON CONFLICT (${key}) ${updates.length > 0 ? `DO UPDATE SET ${updates.join(', ')} WHERE NOT (bw_old.* *= EXCLUDED.*)` : 'DO NOTHING'}`
    await client.query('SAVEPOINT upsert')
    try {
      await client.query(`INSERT INTO ${target} AS bw_old (${names.join(', ')}) SELECT ${names.join(', ')} FROM ${stage} ${onConflict}`)
    } catch (error) {
      // A key twice in one segment (a trade in a snapshot and again in an update): the later line wins. A fresh
      // temporary table filled by one COPY keeps the file's order in its ctid.
      if ((error as {code?: string}).code !== '21000') throw error
      await client.query('ROLLBACK TO SAVEPOINT upsert')
      await client.query(`INSERT INTO ${target} AS bw_old (${names.join(', ')}) SELECT DISTINCT ON (${key}) ${names.join(', ')} FROM ${stage} ORDER BY ${key}, ctid DESC ${onConflict}`)
    }
    await client.query(`DROP TABLE ${stage}`)
  }

  /**
   * Whether the table holds the key of the channel's first or last record (two primary-key lookups): overlaps with
   * the table come as runs at a segment's ends — the tail of the segment before it, the head of the one after it, or
   * the whole segment again under another name.
   */
  private async holdsEdgeKey(client: Client, staged: StagedChannel, target: string): Promise<boolean> {
    if (!staged.edgeKeys) return false
    const table = staged.table
    const types = table.recordKey.map((name) => table.columns.find((column) => column.name === name)!.pgType)
    const params: (string | null)[] = []
    const held = (key: (string | null)[]) => `EXISTS (SELECT FROM ${target} WHERE ${table.recordKey.map((name, i) => `${quote(name)} = $${params.push(key[i])}::${types[i]}`).join(' AND ')})`
    const [first, last] = staged.edgeKeys
    const {rows} = await client.query<{held: boolean}>(`SELECT ${held(first)} OR ${held(last)} AS held`, params)
    return rows[0].held
  }

  async close(): Promise<void> {
    await this.client?.end().catch(() => {})
    this.client = undefined
  }
}
