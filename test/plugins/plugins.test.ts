import {PutObjectCommand} from '@aws-sdk/client-s3'
import {copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {Readable} from 'node:stream'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {SourceKit} from '../../src/plugins/core/source-kit.js'
import * as core from '../../src/plugins/core/source-kit.js'
import {ROOT, runCli} from '../helpers/cli.js'
import {createTestBucket, s3Env, testS3Client} from '../helpers/s3.js'

const EXAMPLE = path.join(ROOT, 'examples', 'plugin-clinicaltrials')
const BROKEN = path.join(ROOT, 'test', 'fixtures', 'plugin-broken')
const INVALID = path.join(ROOT, 'test', 'fixtures', 'plugin-invalid')
/** Real ClinicalTrials.gov v2 study records, vendored (MIT, from ctti-clinicaltrials/aact; see test/fixtures/README.md). */
const REAL = path.join(ROOT, 'test', 'fixtures', 'clinicaltrials')
const STUDIES = ['NCT00973089.json', 'NCT05594173.json', 'NCT06171568.json']

/** A CLI with its own oclif data, config and cache dirs: plugins installed here touch nothing else. */
function isolatedCli(home: string) {
  const env = {
    BUCKETWRIGHT_DATA_DIR: path.join(home, 'data'),
    BUCKETWRIGHT_CONFIG_DIR: path.join(home, 'config'),
    BUCKETWRIGHT_CACHE_DIR: path.join(home, 'cache'),
    OCLIF_DISABLE_LINKED_ESM_WARNING: '1',
  }
  return (args: string[], extra: Record<string, string> = {}) => runCli(args, {env: {...env, ...extra}})
}

interface SourcesJson {
  sources: {name: string; plugin: string; version?: string; builtIn: boolean}[]
  brokenPlugins: {plugin: string; message: string}[]
}

// The hook's `core` is the source kit's module as the registry loads it: the SourceKit interface must name exactly the
// kit's runtime values (a value missing from the interface would be untyped for plugins; one missing from the kit
// would be undefined at run time). Checked by tsc -p test (npm run lint).
const kitMatches: [Exclude<keyof typeof core, keyof SourceKit>, Exclude<keyof SourceKit, keyof typeof core>] extends [never, never] ? true : false = true

describe('the example clinicaltrials plugin, as code', () => {
  it('the registry hands plugins the source kit, whose values SourceKit names', async () => {
    expect(kitMatches).toBe(true)
    const kit: SourceKit = await import('../../src/plugins/core/source-kit.js')
    // The kit a hook gets carries no CLI framework and no service: a plugin cannot reach into core's internals.
    expect(Object.keys(kit).sort()).toEqual(
      [
        'DecodeError',
        'RecordValidator',
        'isLineDecoder',
        'isSqlDecoder',
        'maybeDecompress',
        'namedSource',
        'parseSegmentName',
        'readAll',
        'readLines',
        'seededRandom',
        'segmentBaseName',
        'segmentHour',
        'segmentKey',
        'segmentLayout',
        'segmentName',
        'segmentPrefix',
        'sniffCompression',
        'sqlIdentifier',
        'sqlList',
        'sqlString',
      ].sort(),
    )
  })

  it('decodes the real ClinicalTrials.gov v2 studies with the host source kit, and they validate', async () => {
    const {default: hook} = await import(path.join(EXAMPLE, 'src', 'index.js'))
    const [source] = (await hook({core, config: undefined})) as core.DataSource[]
    const validator = await core.RecordValidator.create(source.schema!)
    const records: core.SourceRecord[] = []
    for (const file of STUDIES) {
      for await (const record of source.decode(Readable.from([await readFile(path.join(REAL, file))]), {key: `ctgov/2024/06/10/${file}`})) records.push(record)
    }
    expect(records.map((record) => [record.nct_id, record.overall_status, record.last_update_posted])).toEqual([
      ['NCT00973089', 'WITHDRAWN', '2015-08-19'],
      ['NCT05594173', 'COMPLETED', '2022-11-21'],
      ['NCT06171568', 'NOT_YET_RECRUITING', expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/)],
    ])
    for (const record of records) expect(validator.validate(record), JSON.stringify(validator.violations())).toBe(true)
    // A search page ({"studies": [...]}) gives one record per study; garbage is the host's DecodeError.
    const page = JSON.stringify({studies: await Promise.all(STUDIES.map(async (file) => JSON.parse(await readFile(path.join(REAL, file), 'utf8')))), nextPageToken: 'x'})
    const fromPage = []
    for await (const record of source.decode(Readable.from([Buffer.from(page)]), {key: 'ctgov/2024/06/10/page-0001.json'})) fromPage.push(record)
    expect(fromPage).toHaveLength(3)
    const broken = source.decode(Readable.from([Buffer.from('{"studies": [')]), {key: 'ctgov/2024/06/10/page-0002.json'})
    await expect(
      (async () => {
        for await (const _ of broken) void _
      })(),
    ).rejects.toBeInstanceOf(core.DecodeError)
  })
})

describe('the example plugin is typed against the public API', () => {
  it('type-checks (JSDoc, strict) against bucketwright/sources', async () => {
    const {execFile} = await import('node:child_process')
    const result = await new Promise<{code: number; output: string}>((resolve) => {
      execFile(process.execPath, [path.join(ROOT, 'node_modules', '@typescript', 'native', 'bin', 'tsc'), '-p', EXAMPLE], {cwd: ROOT}, (error, stdout, stderr) =>
        resolve({code: error ? Number((error as {code?: number}).code ?? 1) : 0, output: stdout + stderr}),
      )
    })
    expect(result.output).toBe('')
    expect(result.code).toBe(0)
  })
})

describe('data-source plugins in a real CLI installation', () => {
  let home: string
  let cli: ReturnType<typeof isolatedCli>
  beforeAll(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'bw-plugins-'))
    cli = isolatedCli(home)
  })
  afterAll(async () => {
    await rm(home, {recursive: true, force: true})
  })

  it('plugins link (offline, --no-install) makes the source appear in `sources` with the plugin as origin', async () => {
    const before = JSON.parse((await cli(['sources', '--json'])).stdout) as SourcesJson
    expect(before.sources.map((source) => source.name)).not.toContain('clinicaltrials')
    const link = await cli(['plugins', 'link', EXAMPLE, '--no-install'])
    expect(link.code, link.stderr).toBe(0)
    const run = await cli(['sources', '--json'])
    expect(run.code).toBe(0)
    const after = JSON.parse(run.stdout) as SourcesJson
    expect(after.sources.find((source) => source.name === 'clinicaltrials')).toEqual(expect.objectContaining({plugin: 'bucketwright-plugin-clinicaltrials', version: '0.1.0', builtIn: false}))
    expect(after.sources.find((source) => source.name === 'wydot-bsm')?.builtIn).toBe(true)
    expect(after.brokenPlugins).toEqual([])
  })

  it('the linked source works in a command: fetch lists its date layout and copies its objects', async () => {
    const bucket = await createTestBucket('bw-plugin')
    const client = testS3Client()
    for (const file of STUDIES) {
      await client.send(new PutObjectCommand({Bucket: bucket, Key: `ctgov/2024/06/10/${file}`, Body: await readFile(path.join(REAL, file))}))
    }
    await client.send(new PutObjectCommand({Bucket: bucket, Key: 'ctgov/2024/06/11/NCT00000001.json', Body: '{}'}))
    const out = path.join(home, 'fetched')
    const run = await cli(['fetch', `s3://${bucket}/`, out, '--source', 'clinicaltrials', '--from', '2024-06-10', '--to', '2024-06-11', '--json'], s3Env())
    expect(run.code, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout)).toMatchObject({objects: 3, prefixes: ['ctgov/2024/06/10/']})
    expect((await readdir(path.join(out, 'ctgov', '2024', '06', '10'))).sort()).toEqual(STUDIES)
  })

  it('the linked source works in convert, verify and etl on the real studies', async () => {
    const raw = path.join(home, 'ctgov-raw')
    const day10 = path.join(raw, 'ctgov', '2024', '06', '10')
    const day11 = path.join(raw, 'ctgov', '2024', '06', '11')
    await mkdir(day10, {recursive: true})
    await mkdir(day11, {recursive: true})
    for (const file of STUDIES.slice(0, 2)) await copyFile(path.join(REAL, file), path.join(day10, file))
    // A search page of the API ({"studies": [...], "nextPageToken"}) on the next day.
    await writeFile(path.join(day11, 'page-0001.json'), JSON.stringify({studies: [JSON.parse(await readFile(path.join(REAL, STUDIES[2]), 'utf8'))], nextPageToken: null}))
    const out = path.join(home, 'ctgov-out')
    const converted = await cli(['convert', raw, out, '--source', 'clinicaltrials', '--bucket', 'day', '--validate', '--json'])
    expect(converted.code, converted.stderr + converted.stdout).toBe(0)
    const result = JSON.parse(converted.stdout)
    expect(result.buckets.map((bucket: {key: string; records: number}) => [bucket.key, bucket.records])).toEqual([
      ['2024-06-10', 2],
      ['2024-06-11', 1],
    ])
    expect(result).toMatchObject({quarantined: 0, validation: {recordsChecked: 3, recordsInvalid: 0}})
    const verified = await cli(['verify', out, '--source', 'clinicaltrials', '--raw', raw, '--json'])
    expect(verified.code, verified.stdout).toBe(0)
    expect(JSON.parse(verified.stdout).checks.find((check: {name: string}) => check.name === 'duplicates').summary).toMatch(/nct_id \+ last_update_posted/)
    // etl: an NDJSON segment of studies, as `bucketwright ingest` writes them.
    const segments = path.join(home, 'ctgov-segments')
    await mkdir(path.join(segments, 'raw', 'ready', 'clinicaltrials'), {recursive: true})
    const lines = await Promise.all(STUDIES.map(async (file) => JSON.stringify(JSON.parse(await readFile(path.join(REAL, file), 'utf8')))))
    await writeFile(path.join(segments, 'raw', 'ready', 'clinicaltrials', 'segment_20240610T00_0.ndjson'), lines.join('\n') + '\n')
    const loaded = await cli(['etl', segments, '--to', path.join(home, 'ctgov-parquet'), '--source', 'clinicaltrials', '--json'])
    expect(loaded.code, loaded.stderr).toBe(0)
    expect(JSON.parse(loaded.stdout).totals).toMatchObject({segments: 1, records: 3, quarantined: 0, failed: 0})
  })

  it('a plugin that throws while loading is reported by name; the other sources still work', async () => {
    expect((await cli(['plugins', 'link', BROKEN, '--no-install'])).code).toBe(0)
    expect((await cli(['plugins', 'link', INVALID, '--no-install'])).code).toBe(0)
    const run = await cli(['sources', '--json'])
    expect(run.code).toBe(0)
    const listing = JSON.parse(run.stdout) as SourcesJson
    expect(listing.brokenPlugins).toEqual(
      expect.arrayContaining([
        {plugin: 'bucketwright-plugin-broken', message: expect.stringContaining('libctgov.so')},
        {plugin: 'bucketwright-plugin-invalid', message: 'a source must have a name, a layout and a decode function'},
      ]),
    )
    expect(listing.brokenPlugins).toHaveLength(2)
    expect(listing.sources.map((source) => source.name)).not.toContain('half-done')
    expect(listing.sources.map((source) => source.name)).toEqual(expect.arrayContaining(['clinicaltrials', 'wydot-bsm']))
    const text = await cli(['sources'])
    expect(text.stdout).toMatch(/^clinicaltrials\s+bucketwright-plugin-clinicaltrials@0\.1\.0\s+ClinicalTrials/m)
    expect(text.stdout).toMatch(/^\(broken\)\s+bucketwright-plugin-broken\s+cannot find the native module/m)
    // Other commands warn on stderr, naming the plugin, and go on.
    const generate = await cli(['generate', path.join(home, 'gen'), '--source', 'wydot-bsm', '--from', '2019-03-01T10', '--to', '2019-03-01T10:05', '--json'])
    expect(generate.code).toBe(0)
    expect(generate.stderr).toMatch(/WARN Plugin bucketwright-plugin-broken could not load its data sources: .*libctgov\.so/)
    expect(JSON.parse(generate.stdout).objects).toBe(1)
    // Asking for a source that is not there names the broken plugin among the next steps.
    const unknown = await cli(['generate', path.join(home, 'gen2'), '--source', 'ctgov-broken', '--from', '2019-03-01', '--to', '2019-03-02', '--json'])
    expect(unknown.code).toBe(2)
    expect(JSON.parse(unknown.stdout).error.nextSteps.join('\n')).toMatch(/bucketwright-plugin-broken failed to load/)
    expect((await cli(['plugins', 'unlink', 'bucketwright-plugin-broken'])).code).toBe(0)
    expect((await cli(['plugins', 'unlink', 'bucketwright-plugin-invalid'])).code).toBe(0)
  })

  it('plugins install file:<dir> (npm, no registry needed for a plugin without dependencies) and uninstall', async () => {
    expect((await cli(['plugins', 'unlink', 'bucketwright-plugin-clinicaltrials'])).code).toBe(0)
    const install = await cli(['plugins', 'install', `file:${EXAMPLE}`])
    expect(install.code, install.stderr).toBe(0)
    const listing = JSON.parse((await cli(['sources', '--json'])).stdout) as SourcesJson
    expect(listing.sources.find((source) => source.name === 'clinicaltrials')?.plugin).toBe('bucketwright-plugin-clinicaltrials')
    expect((await cli(['plugins', 'uninstall', 'bucketwright-plugin-clinicaltrials'])).code).toBe(0)
    const gone = JSON.parse((await cli(['sources', '--json'])).stdout) as SourcesJson
    expect(gone.sources.map((source) => source.name)).not.toContain('clinicaltrials')
  })
})
