import {PutObjectCommand} from '@aws-sdk/client-s3'
import {spawn} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {LoadResult} from '../../src/plugins/core/load/load.js'
import {pgName} from '../../src/plugins/core/load/plan.js'
import {advancedTradeFrames, cut, replicatedAdvancedFrames} from '../etl/fixtures.js'
import {BIN, ROOT, runCli} from '../helpers/cli.js'
import {startPostgres} from '../helpers/postgres.js'
import {createTestBucket, s3Env, s3Servers, testS3Client} from '../helpers/s3.js'

/** Real ClinicalTrials.gov v2 study records, vendored (MIT; see test/fixtures/README.md). */
const TRIALS = path.join(ROOT, 'test', 'fixtures', 'clinicaltrials')
const studies = fs
  .readdirSync(TRIALS)
  .filter((name) => name.endsWith('.json'))
  .map((name) => JSON.parse(fs.readFileSync(path.join(TRIALS, name), 'utf8')) as Study)
type Study = {protocolSection: {identificationModule: {nctId: string}; statusModule: {overallStatus: string}}} & Record<string, unknown>
const NCT_KEY = 'protocolSection.identificationModule.nctId'
const nctIds = studies.map((study) => study.protocolSection.identificationModule.nctId).sort()

/** Frames per sequence_num, the last one of a repeated number winning (as load keeps a file's last row). */
function framesByKey(lines: string[]): Map<number, {events: unknown[]}> {
  const byKey = new Map<number, {events: unknown[]}>()
  for (const line of lines) {
    const frame = JSON.parse(line) as {sequence_num: number; events: unknown[]}
    byKey.set(frame.sequence_num, frame)
  }
  return byKey
}

describe('load: staging Parquet and JSON Lines → Postgres, each file exactly once', {timeout: 300_000}, () => {
  let server: {url: string; stop: () => Promise<void>}
  let client: pg.Client
  const temp: string[] = []
  const mkdtemp = (prefix = 'bw-load-test-') => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
    temp.push(dir)
    return dir
  }
  const write = (root: string, key: string, body: string | Buffer) => {
    fs.mkdirSync(path.dirname(path.join(root, key)), {recursive: true})
    fs.writeFileSync(path.join(root, key), body)
  }
  const compact = async (root: string) => {
    const run = await runCli(['compact', root, '--json'])
    expect(run.code, run.stderr).toBe(0)
  }
  const load = async (args: string[], env: Record<string, string> = {}) => {
    const run = await runCli(['load', ...args, '--to', server.url, '--json'], {env})
    return {...run, result: JSON.parse(run.stdout) as LoadResult}
  }
  const rows = async <T = Record<string, unknown>>(sql: string, values: unknown[] = []) => (await client.query(sql, values)).rows as T[]

  beforeAll(async () => {
    server = await startPostgres()
    client = new pg.Client({connectionString: server.url})
    await client.connect()
  })
  afterAll(async () => {
    await client?.end()
    await server?.stop()
    for (const dir of temp) fs.rmSync(dir, {recursive: true, force: true})
  })

  it("ClinicalTrials: compact's Parquet loads on a nested key, a rerun adds nothing, a later file with a new field grows the table", async () => {
    const root = mkdtemp()
    for (const study of studies) write(root, `staging/2024-06-10/${study.protocolSection.identificationModule.nctId}.json`, JSON.stringify(study))
    await compact(root)
    expect(fs.existsSync(path.join(root, 'compacted/2024-06-10.parquet'))).toBe(true)

    const first = await load([root, '--table', 'studies', '--key', NCT_KEY])
    expect(first.code, first.stderr).toBe(0)
    // compact's manifests (_manifests/…) are not staging files: only the Parquet output is loaded.
    expect(first.result.files).toEqual([expect.objectContaining({file: 'compacted/2024-06-10.parquet', status: 'loaded', rows: 3, schemaVersion: 1})])
    const loaded = await rows<{id: string; section: unknown; status: string}>(
      `SELECT "protocolSection__identificationModule__nctId" AS id, jsonb_strip_nulls("protocolSection") AS section, "protocolSection"->'statusModule'->>'overallStatus' AS status FROM studies ORDER BY 1`,
    )
    expect(loaded.map((row) => row.id)).toEqual(nctIds)
    // The nested study went to jsonb whole: every field of the original is there (Parquet's union of three studies
    // adds absent fields as nulls, stripped here).
    for (const row of loaded) expect(row.section).toEqual(studies.find((study) => study.protocolSection.identificationModule.nctId === row.id)!.protocolSection)

    const again = await load([root, '--table', 'studies', '--key', NCT_KEY])
    expect(again.code).toBe(0)
    expect(again.result.files.map((file) => file.status)).toEqual(['already-loaded'])
    expect((await rows<{n: number}>('SELECT count(*)::int AS n FROM studies'))[0].n).toBe(3)

    // A later day: one study updated, one new, and a top-level field the table has no column for.
    const updated = structuredClone(studies[0])
    updated.protocolSection.statusModule.overallStatus = 'COMPLETED_IN_TEST'
    const added = structuredClone(studies[1])
    added.protocolSection.identificationModule.nctId = 'NCT99999999'
    for (const study of [updated, added]) write(root, `staging/2024-06-11/${study.protocolSection.identificationModule.nctId}.json`, JSON.stringify({...study, reviewBatch: 7}))
    await compact(root)
    const later = await load([root, '--table', 'studies', '--key', NCT_KEY])
    expect(later.code, later.stderr).toBe(0)
    expect(later.result.files).toEqual([
      expect.objectContaining({file: 'compacted/2024-06-10.parquet', status: 'already-loaded'}),
      expect.objectContaining({file: 'compacted/2024-06-11.parquet', status: 'loaded', rows: 2, added: ['studies.reviewBatch'], schemaVersion: 2}),
    ])
    const grown = await rows<{id: string; batch: string | null; status: string}>(
      `SELECT "protocolSection__identificationModule__nctId" AS id, "reviewBatch"::text AS batch, "protocolSection"->'statusModule'->>'overallStatus' AS status FROM studies ORDER BY 1`,
    )
    expect(grown.map((row) => row.id)).toEqual([...nctIds, 'NCT99999999'].sort())
    const updatedId = updated.protocolSection.identificationModule.nctId
    for (const row of grown) {
      const fromLater = row.id === updatedId || row.id === 'NCT99999999'
      expect(row.batch).toBe(fromLater ? '7' : null)
      if (row.id === updatedId) expect(row.status).toBe('COMPLETED_IN_TEST')
    }
    expect(await rows(`SELECT file, rows::int, schema_version FROM bucketwright_load_ledger WHERE target_table = 'studies' ORDER BY file`)).toEqual([
      {file: 'compacted/2024-06-10.parquet', rows: 3, schema_version: 1},
      {file: 'compacted/2024-06-11.parquet', rows: 2, schema_version: 2},
    ])
  })

  it('ClinicalTrials --normalize: struct fields become columns (long paths cut to a stable name), lists child tables', async () => {
    const root = mkdtemp()
    for (const study of studies) write(root, `staging/2024-06-10/${study.protocolSection.identificationModule.nctId}.json`, JSON.stringify(study))
    await compact(root)
    const run = await load([root, '--table', 'trials', '--key', NCT_KEY, '--normalize'])
    expect(run.code, run.stderr).toBe(0)
    const key = 'protocolSection__identificationModule__nctId'
    const section = (id: string) => studies.find((study) => study.protocolSection.identificationModule.nctId === id)!.protocolSection as Record<string, Record<string, unknown>>
    expect(await rows(`SELECT "${key}" AS id, "protocolSection__statusModule__overallStatus" AS status FROM trials ORDER BY 1`)).toEqual(nctIds.map((id) => ({id, status: section(id).statusModule.overallStatus})))
    // 83 characters: Postgres would cut it at 63 and could confuse it with another; it is cut with a hash instead.
    const long = pgName('protocolSection__sponsorCollaboratorsModule__responsibleParty__investigatorFullName')
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(63)
    const party = (id: string) => (section(id).sponsorCollaboratorsModule.responsibleParty as {investigatorFullName?: string} | undefined)?.investigatorFullName ?? null
    expect(await rows(`SELECT "${key}" AS id, "${long}" AS name FROM trials ORDER BY 1`)).toEqual(nctIds.map((id) => ({id, name: party(id)})))
    // A list of strings: one child row per element, in order, under the study's key.
    const conditions = await rows('SELECT _parent_key AS id, _pos AS pos, value FROM "trials__protocolSection__conditionsModule__conditions" ORDER BY 1, 2')
    expect(conditions).toEqual(nctIds.flatMap((id) => (section(id).conditionsModule.conditions as string[]).map((value, pos) => ({id, pos, value}))))
    // A list of structs: a column per field.
    const interventions = await rows('SELECT _parent_key AS id, _pos AS pos, name, type FROM "trials__protocolSection__armsInterventionsModule__interventions" ORDER BY 1, 2')
    expect(interventions).toEqual(nctIds.flatMap((id) => (section(id).armsInterventionsModule.interventions as {name: string; type: string}[]).map(({name, type}, pos) => ({id, pos, name, type}))))
    // A later JSON Lines file of one study maps every field to the same columns: nothing added, nothing refused.
    write(root, 'staging/2024-06-11/again.jsonl', JSON.stringify(studies[0]) + '\n')
    const later = await load([root, '--table', 'trials', '--key', NCT_KEY, '--normalize'])
    expect(later.code, later.stderr).toBe(0)
    expect(later.result.files.find((file) => file.file === 'staging/2024-06-11/again.jsonl')).toMatchObject({status: 'loaded', rows: 1, schemaVersion: 1})
    expect(later.result.files.find((file) => file.file === 'staging/2024-06-11/again.jsonl')!.added).toBeUndefined()
  })

  it('usage errors exit 2 before anything is read; an empty file is loaded as nothing, a broken one stops with its name', async () => {
    const root = mkdtemp()
    const noKey = await runCli(['load', root, '--to', server.url, '--table', 'x'])
    expect(noKey.code).toBe(2)
    expect(noKey.stderr).toContain('NO_TABLE_OR_KEY')
    const notPostgres = await runCli(['load', root, '--to', root, '--table', 'x', '--key', 'id'])
    expect(notPostgres.code).toBe(2)
    expect(notPostgres.stderr).toContain('BAD_TARGET')
    write(root, 'a/1-empty.jsonl', '')
    write(root, 'a/2-broken.parquet', 'PAR1 this is no parquet file')
    const run = await load([root, '--table', 'brittle', '--key', 'id'])
    expect(run.code).toBe(1)
    expect(run.result.files.map((file) => [file.file, file.status, file.rows])).toEqual([
      ['a/1-empty.jsonl', 'loaded', 0],
      ['a/2-broken.parquet', 'failed', 0],
    ])
    expect(run.result.files[1].error).toMatchObject({code: 'LOAD_READ_FAILED', message: expect.stringContaining('a/2-broken.parquet')})
    expect(await rows(`SELECT file, rows::int FROM bucketwright_load_ledger WHERE target_table = 'brittle'`)).toEqual([{file: 'a/1-empty.jsonl', rows: 0}])
  })

  it('a type the column cannot hold stops at that file: exit 1, file, column and both types named, nothing of it loaded', async () => {
    const root = mkdtemp()
    // JSON Lines, gzip-compressed, then plain: the other staging format.
    write(
      root,
      'staging/2024-07-01/orders.jsonl.gz',
      zlib.gzipSync(
        [
          {id: 1, qty: 5, note: 'a'},
          {id: 2, qty: 6, note: 'b'},
        ]
          .map((row) => JSON.stringify(row))
          .join('\n') + '\n',
      ),
    )
    write(
      root,
      'staging/2024-07-02/orders.jsonl',
      [
        {id: 2, qty: 60, note: 'changed'},
        {id: 3, qty: 'lots', note: 'c'},
      ]
        .map((row) => JSON.stringify(row))
        .join('\n') + '\n',
    )
    write(root, 'staging/2024-07-03/orders.jsonl', JSON.stringify({id: 4, qty: 8, note: 'd'}) + '\n')
    const run = await load([root, '--table', 'orders', '--key', 'id'])
    expect(run.code).toBe(1)
    expect(run.result.files.map((file) => [file.file, file.status])).toEqual([
      ['staging/2024-07-01/orders.jsonl.gz', 'loaded'],
      ['staging/2024-07-02/orders.jsonl', 'failed'],
      // Not loaded past the failure: a later file's rows must not be overwritten by the earlier file's next time.
      ['staging/2024-07-03/orders.jsonl', 'not-reached'],
    ])
    const error = run.result.files[1].error!
    expect(error.code).toBe('LOAD_TYPE_CONFLICT')
    expect(error.message).toContain('staging/2024-07-02/orders.jsonl')
    expect(error.message).toMatch(/column "qty" of "public"\."orders" is bigint, but this file has JSON values/)
    expect(error.nextSteps.join(' ')).toMatch(/ALTER TABLE "public"\."orders" ALTER COLUMN "qty" TYPE text/)
    expect(run.stderr).toContain('column "qty"')
    // Row 2 keeps the first file's values: the failed file's update was rolled back with the rest of it.
    expect(await rows('SELECT id::int, qty::int, note FROM orders ORDER BY id')).toEqual([
      {id: 1, qty: 5, note: 'a'},
      {id: 2, qty: 6, note: 'b'},
    ])
    expect(await rows(`SELECT file FROM bucketwright_load_ledger WHERE target_table = 'orders'`)).toEqual([{file: 'staging/2024-07-01/orders.jsonl.gz'}])

    // The user widens the column as told; the rerun loads the two files left, and nothing twice.
    await client.query('ALTER TABLE orders ALTER COLUMN qty TYPE text USING qty::text')
    const rerun = await load([root, '--table', 'orders', '--key', 'id'])
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(rerun.result.files.map((file) => file.status)).toEqual(['already-loaded', 'loaded', 'loaded'])
    expect(await rows('SELECT id::int, qty, note FROM orders ORDER BY id')).toEqual([
      {id: 1, qty: '5', note: 'a'},
      {id: 2, qty: '60', note: 'changed'},
      {id: 3, qty: 'lots', note: 'c'},
      {id: 4, qty: '8', note: 'd'},
    ])
  })

  it('a JSON Lines field null in every line of a file is no type: no false conflict, no guessed column, nulls overwrite', async () => {
    const root = mkdtemp()
    const lines = (rows: object[]) => rows.map((row) => JSON.stringify(row)).join('\n') + '\n'
    // First file: "late" null everywhere (no type to read), "qty" integers.
    write(
      root,
      'staging/2024-08-01/parts.jsonl',
      lines([
        {id: 1, qty: 5, late: null},
        {id: 2, qty: 6, late: null},
      ]),
    )
    // Second: "qty" null everywhere — an update of row 2 that clears it, and a new row — "late" still no values.
    write(
      root,
      'staging/2024-08-02/parts.jsonl',
      lines([
        {id: 2, qty: null, late: null},
        {id: 3, qty: null},
      ]),
    )
    // Third: "late" has values at last, and "qty" is an integer again.
    write(root, 'staging/2024-08-03/parts.jsonl', lines([{id: 4, qty: 9, late: 'yes'}]))
    const run = await load([root, '--table', 'parts', '--key', 'id'])
    expect(run.code, run.stderr).toBe(0)
    expect(run.result.files.map((file) => file.status)).toEqual(['loaded', 'loaded', 'loaded'])
    const columns = await rows<{column_name: string; data_type: string}>(`SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'parts' ORDER BY ordinal_position`)
    // "qty" kept the type its values gave it; "late" was made by the file that had values for it, with theirs.
    expect(columns).toEqual([
      {column_name: 'id', data_type: 'bigint'},
      {column_name: 'qty', data_type: 'bigint'},
      {column_name: 'late', data_type: 'text'},
    ])
    expect(await rows('SELECT id::int, qty::int, late FROM parts ORDER BY id')).toEqual([
      {id: 1, qty: 5, late: null},
      {id: 2, qty: null, late: null},
      {id: 3, qty: null, late: null},
      {id: 4, qty: 9, late: 'yes'},
    ])
    // The adversary's case the other way: values of a type the column cannot hold still conflict.
    write(root, 'staging/2024-08-04/parts.jsonl', lines([{id: 5, qty: 'many', late: null}]))
    const bad = await load([root, '--table', 'parts', '--key', 'id'])
    expect(bad.code).toBe(1)
    expect(bad.result.files.at(-1)!.error!.code).toBe('LOAD_TYPE_CONFLICT')
  })

  it('a file replaced and loaded again rewrites only its changed rows: the unchanged ones keep their row version', async () => {
    const root = mkdtemp()
    const lines = (rows: object[]) => rows.map((row) => JSON.stringify(row)).join('\n') + '\n'
    const items = (name2: string, price3: string) => [
      {id: 1, name: 'one', price: '1.50', tags: {a: 1}},
      {id: 2, name: name2, price: '2.50', tags: null},
      {id: 3, name: 'three', price: price3, tags: {b: [1, 2]}},
      {id: 4, name: 'four', price: '4.50', tags: {c: 'x'}},
    ]
    write(root, 'staging/2024-09-01/items.jsonl', lines(items('two', '3.50')))
    expect((await load([root, '--table', 'items', '--key', 'id'])).code).toBe(0)
    const versions = async () => rows<{id: number; x: string; name: string; price: string}>('SELECT id::int, xmin::text AS x, name, price FROM items ORDER BY id')
    const before = await versions()
    // compact's day file with late rows merged in, say: row 2's name changed, row 3's price written "3.5".
    write(root, 'staging/2024-09-01/items.jsonl', lines(items('two, again', '3.5')))
    const again = await load([root, '--table', 'items', '--key', 'id'])
    expect(again.result.files.map((file) => file.status)).toEqual(['loaded'])
    const after = await versions()
    expect(after.map((row, i) => row.x !== before[i].x)).toEqual([false, true, true, false])
    expect(after.map((row) => [row.name, row.price])).toEqual([
      ['one', '1.50'],
      ['two, again', '2.50'],
      ['three', '3.5'],
      ['four', '4.50'],
    ])
  })

  it("a narrower integer column is widened in the file's transaction; a NULL key stops the file", async () => {
    const root = mkdtemp()
    await client.query('CREATE TABLE counters (id bigint PRIMARY KEY, hits integer)')
    write(root, 'a/1.jsonl', JSON.stringify({id: 1, hits: 2 ** 40}) + '\n')
    const widened = await load([root, '--table', 'counters', '--key', 'id'])
    expect(widened.code, widened.stderr).toBe(0)
    expect(widened.result.files[0].widened).toEqual(['counters.hits: integer → bigint'])
    expect(await rows('SELECT hits::text FROM counters')).toEqual([{hits: String(2 ** 40)}])
    write(root, 'a/2.jsonl', JSON.stringify({id: null, hits: 1}) + '\n' + JSON.stringify({id: 5, hits: 1}) + '\n')
    const nullKey = await load([root, '--table', 'counters', '--key', 'id'])
    expect(nullKey.code).toBe(1)
    expect(nullKey.result.files[1]).toMatchObject({file: 'a/2.jsonl', status: 'failed', error: {code: 'LOAD_NULL_KEY'}})
    expect((await rows<{n: number}>('SELECT count(*)::int AS n FROM counters'))[0].n).toBe(1)
  })

  it("--normalize: coinbase frames (compact's Hive output) → a parent table and an events child table kept in step", async () => {
    const root = mkdtemp()
    const lines = advancedTradeFrames()
    cut(lines, 3).forEach((body, i) => write(root, `coinbase/raw/date=2024-05-01/segment_${i}.ndjson`, body))
    await compact(root)
    const outputs = (fs.readdirSync(path.join(root, 'coinbase/raw/date=2024-05-01')) as string[]).filter((name) => name.endsWith('.parquet'))
    expect(outputs.length).toBeGreaterThan(0)
    const run = await load([root, '--table', 'frames', '--key', 'sequence_num', '--normalize'])
    expect(run.code, run.stderr).toBe(0)
    const expected = framesByKey(lines)
    const events = [...expected.values()].reduce((sum, frame) => sum + frame.events.length, 0)
    expect(run.result.totals.rows).toBe(expected.size)
    expect(await rows('SELECT count(*)::int AS n, count(DISTINCT sequence_num)::int AS d, min(date) AS date FROM frames')).toEqual([{n: expected.size, d: expected.size, date: '2024-05-01'}])
    expect(await rows('SELECT count(*)::int AS n, count(DISTINCT (_parent_key, _pos))::int AS d FROM frames__events')).toEqual([{n: events, d: events}])
    const [sequence, original] = [...expected.entries()][0]
    const childTypes = await rows<{type: string}>('SELECT type FROM frames__events WHERE _parent_key = $1 ORDER BY _pos', [sequence])
    expect(childTypes.map((row) => row.type)).toEqual((original.events as {type: string}[]).map((event) => event.type))

    // Later files hold the same frame with two events, then with none: its child rows follow, never added to.
    const frame = JSON.parse(lines.findLast((line) => (JSON.parse(line) as {sequence_num: number}).sequence_num === sequence)!) as {events: {type: string}[]}
    const eventsOf = () => rows<{pos: number; type: string}>('SELECT _pos AS pos, type FROM frames__events WHERE _parent_key = $1 ORDER BY _pos', [sequence])
    write(root, 'coinbase/raw/date=2024-05-02/late.jsonl', JSON.stringify({...frame, events: [frame.events[0], {...frame.events[0], type: 'replayed'}]}) + '\n')
    const late = await load([root, '--table', 'frames', '--key', 'sequence_num', '--normalize'])
    expect(late.code, late.stderr).toBe(0)
    expect(await eventsOf()).toEqual([
      {pos: 0, type: frame.events[0].type},
      {pos: 1, type: 'replayed'},
    ])
    expect((await rows<{n: number}>('SELECT count(*)::int AS n FROM frames__events'))[0].n).toBe(events - original.events.length + 2)
    expect((await rows<{date: string}>('SELECT date FROM frames WHERE sequence_num = $1', [sequence]))[0].date).toBe('2024-05-02')
    write(root, 'coinbase/raw/date=2024-05-03/later.jsonl', JSON.stringify({...frame, events: []}) + '\n')
    const emptied = await load([root, '--table', 'frames', '--key', 'sequence_num', '--normalize'])
    expect(emptied.code, emptied.stderr).toBe(0)
    expect(await eventsOf()).toEqual([])
    expect((await rows<{n: number}>('SELECT count(*)::int AS n FROM frames__events'))[0].n).toBe(events - original.events.length)
  })

  it('two loaders racing share the files: each file is loaded by exactly one of them', async () => {
    const root = mkdtemp()
    const lines = replicatedAdvancedFrames(2)
    cut(lines, 6).forEach((body, i) => write(root, `staging/2024-05-0${i + 1}/frames.jsonl`, body))
    const args = [root, '--table', 'race', '--key', 'sequence_num']
    const [a, b] = await Promise.all([load(args), load(args)])
    expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0])
    expect(a.result.totals.loaded + b.result.totals.loaded).toBe(6)
    expect(a.result.totals.alreadyLoaded + b.result.totals.alreadyLoaded).toBe(6)
    const expected = framesByKey(lines).size
    expect(await rows(`SELECT count(*)::int AS n, count(DISTINCT sequence_num)::int AS d FROM race`)).toEqual([{n: expected, d: expected}])
    expect(await rows(`SELECT count(*)::int AS n, count(DISTINCT file)::int AS d FROM bucketwright_load_ledger WHERE target_table = 'race'`)).toEqual([{n: 6, d: 6}])
  })

  it("the next file is staged by DuckDB while Postgres loads the one before: held in file 1's transaction, file 2's rows are staged", async () => {
    const root = mkdtemp()
    const lines = replicatedAdvancedFrames(2)
    const bodies = cut(lines, 3)
    bodies.forEach((body, i) => write(root, `staging/2024-05-0${i + 1}/frames.jsonl`, body))
    const expected = bodies.slice(0, 2).map((body) => framesByKey(body.trim().split('\n')).size)
    const tmp = mkdtemp()
    const args = [root, '--table', 'ahead', '--key', 'sequence_num', '--to', server.url]
    const held = spawn(process.execPath, [BIN, 'load', ...args], {cwd: ROOT, env: {...process.env, TMPDIR: tmp, BUCKETWRIGHT_TEST_HOLD_AT: 'before-commit:1'}, stdio: 'ignore'})
    const died = new Promise((resolve) => held.on('exit', resolve))
    /** Rows of each staged CSV in the loader's temp folder. */
    const stagedRows = () =>
      fs
        .readdirSync(tmp)
        .filter((name) => name.startsWith('bw-load-') && fs.existsSync(path.join(tmp, name, 'table.csv')))
        .map(
          (name) =>
            fs
              .readFileSync(path.join(tmp, name, 'table.csv'), 'utf8')
              .split('\n')
              .filter(Boolean).length,
        )
        .sort((a, b) => a - b)
    try {
      let inTransaction = 0
      let staged: number[] = []
      for (let i = 0; i < 400 && !(inTransaction > 0 && staged.length === 2 && staged.join() === [...expected].sort((a, b) => a - b).join()); i++) {
        await new Promise((resolve) => setTimeout(resolve, 50))
        inTransaction = (await rows<{n: number}>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'bucketwright load' AND state = 'idle in transaction'`))[0].n
        staged = stagedRows()
      }
      expect(inTransaction).toBe(1)
      expect(staged).toEqual([...expected].sort((a, b) => a - b))
    } finally {
      held.kill('SIGKILL')
      await died
    }
  })

  it("two loaders race, one is SIGKILLed inside a file's transaction while the other waits on it; every row exactly once", async () => {
    const root = mkdtemp()
    const lines = replicatedAdvancedFrames(3)
    cut(lines, 6).forEach((body, i) => write(root, `staging/2024-05-0${i + 1}/frames.jsonl`, body))
    const args = [root, '--table', 'crash', '--key', 'sequence_num']
    const poll = async (sql: string) => {
      for (let i = 0; i < 1200; i++) {
        // Run alone, the ledger may not exist yet (42P01): not ready.
        const n = await rows<{n: number}>(sql).then(
          (found) => found[0].n,
          (error: {code?: string}) => (error.code === '42P01' ? 0 : Promise.reject(error)),
        )
        if (n > 0) return
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      throw new Error(`timed out waiting for: ${sql}`)
    }
    // The victim stops inside its second file's transaction: rows written, table lock held, nothing committed.
    const victim = spawn(process.execPath, [BIN, 'load', ...args, '--to', server.url], {cwd: ROOT, env: {...process.env, TMPDIR: mkdtemp(), BUCKETWRIGHT_TEST_HOLD_AT: 'before-commit:2'}, stdio: 'ignore'})
    const died = new Promise<NodeJS.Signals | null>((resolve) => victim.on('exit', (_code, signal) => resolve(signal)))
    try {
      await poll(`SELECT count(*)::int AS n FROM bucketwright_load_ledger WHERE target_table = 'crash'`)
      await poll(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'bucketwright load' AND state = 'idle in transaction'`)
      const survivor = load(args)
      // The second loader is waiting for the victim's table lock (past the ledger check of the file in hand).
      await poll(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`)
      victim.kill('SIGKILL')
      expect(await died).toBe('SIGKILL')
      const second = await survivor
      expect(second.code, second.stderr).toBe(0)
      // The survivor loaded the file the victim was killed in, and every file after it.
      expect(second.result.files.map((file) => file.status)).toEqual(['already-loaded', 'loaded', 'loaded', 'loaded', 'loaded', 'loaded'])
    } finally {
      victim.kill('SIGKILL')
    }
    const rerun = await load(args)
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(rerun.result.files.map((file) => file.status)).toEqual(Array(6).fill('already-loaded'))
    const expected = framesByKey(lines).size
    expect(await rows(`SELECT count(*)::int AS n, count(DISTINCT sequence_num)::int AS d FROM crash`)).toEqual([{n: expected, d: expected}])
    expect(await rows(`SELECT count(*)::int AS n, count(DISTINCT file)::int AS d, sum(rows)::int AS r FROM bucketwright_load_ledger WHERE target_table = 'crash'`)).toEqual([{n: 6, d: 6, r: expected}])
    // The killed loader's transaction is gone with its connection: no session of it is left (a backend ends just
    // after its client's goodbye, so give it a moment).
    let sessions = -1
    for (let i = 0; i < 100 && sessions !== 0; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 50))
      sessions = (await rows<{n: number}>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'bucketwright load'`))[0].n
    }
    expect(sessions).toBe(0)
  })

  describe.each(s3Servers())('from an S3 staging location ($name)', ({name, endpoint}) => {
    it("loads compact's output and JSON Lines through the spool, once", async () => {
      const local = mkdtemp()
      for (const study of studies) write(local, `staging/2024-06-10/${study.protocolSection.identificationModule.nctId}.json`, JSON.stringify(study))
      await compact(local)
      const s3 = testS3Client(endpoint)
      const bucket = await createTestBucket('bw-load', s3)
      await s3.send(new PutObjectCommand({Bucket: bucket, Key: 'lake/compacted/2024-06-10.parquet', Body: fs.readFileSync(path.join(local, 'compacted/2024-06-10.parquet'))}))
      await s3.send(new PutObjectCommand({Bucket: bucket, Key: 'lake/staging/2024-06-12/extra.jsonl.gz', Body: zlib.gzipSync(JSON.stringify({protocolSection: {identificationModule: {nctId: 'NCT00000001'}}}) + '\n')}))
      await s3.send(new PutObjectCommand({Bucket: bucket, Key: 'lake/_manifests/compacted/2024-06-10.parquet.json', Body: '{}'}))
      const table = `s3_${name}`
      const args = [`s3://${bucket}/lake/`, '--table', table, '--key', NCT_KEY]
      const run = await load(args, s3Env(endpoint))
      expect(run.code, run.stderr).toBe(0)
      expect(run.result.files.map((file) => [file.file, file.status, file.rows])).toEqual([
        ['compacted/2024-06-10.parquet', 'loaded', 3],
        ['staging/2024-06-12/extra.jsonl.gz', 'loaded', 1],
      ])
      expect((await rows<{n: number}>(`SELECT count(DISTINCT "protocolSection__identificationModule__nctId")::int AS n FROM ${table}`))[0].n).toBe(4)
      const again = await load(args, s3Env(endpoint))
      expect(again.result.totals).toMatchObject({loaded: 0, alreadyLoaded: 2})
    })
  })
})
