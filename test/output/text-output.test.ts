import fs from 'node:fs/promises'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {Logger, printable, shortened} from '../../src/plugins/core/index.js'
import {LocalStorage} from '../../src/plugins/core/storage/local.js'
import type {ConvertResult} from '../../src/plugins/core/convert/types.js'
import {runCli} from '../helpers/cli.js'
import {buildDataset, linkTinybusPlugin, removeTempDirs, tempDir, writeOutput} from '../verify/helpers.js'

/** What a terminal would act on: C0 but the line feed, DEL, C1, line/paragraph separators, bidi controls. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/
const HOSTILE = '\u001b[31mRED\r\nFAKE LINE\u0007\u009b2J\u202eevil'
const SHOWN = '\\x1b[31mRED\\r\\nFAKE LINE\\x07\\x9b2J\\u202eevil'

describe('printable', () => {
  it('shows every control character as an escape and leaves other text alone', () => {
    expect(printable(HOSTILE)).toBe(SHOWN)
    expect(printable('\t\u0000\u007f\u2028\u2029\u200e\u2066')).toBe('\\t\\x00\\x7f\\u2028\\u2029\\u200e\\u2066')
    expect(printable('Zürich 中 😀 a\\b "q"')).toBe('Zürich 中 😀 a\\b "q"')
    expect(printable('one\ntwo\r\x1b', {keepNewlines: true})).toBe('one\ntwo\\r\\x1b')
    expect(printable(42)).toBe('42')
    // Escaping twice changes nothing more: a formatter and the final print may both apply it.
    expect(printable(printable(HOSTILE))).toBe(SHOWN)
  })

  it('shortens without splitting a character', () => {
    expect(shortened('abcdef', 10)).toBe('abcdef')
    expect(shortened('abcdef', 4)).toBe('abc…')
    expect(shortened('ab😀cd', 4)).toBe('ab…')
  })
})

describe('stderr escapes control characters too', () => {
  it('a log line cannot carry raw control characters or start a line of its own', () => {
    const lines: string[] = []
    const logger = new Logger({stream: {write: (line: string) => lines.push(line)}})
    logger.warn(`skipping ${HOSTILE}\n[2026-01-01 00:00:00] INFO all files shipped`)
    const written = lines.join('')
    expect(written).not.toMatch(RAW_CONTROL)
    // Every line that starts at column 0 is one the logger began.
    expect(written.split('\n').filter((line) => line.startsWith('['))).toHaveLength(1)
  })

  it('an error naming a hostile path prints it escaped', async () => {
    const run = await runCli(['convert', `./no-such-${HOSTILE}`, './out', '--source', 'json'])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('\\x1b[31mRED')
    expect(run.stderr).not.toMatch(RAW_CONTROL)
  })
})

describe('text output of the commands escapes control characters in keys and values', () => {
  let root: string
  let env: Record<string, string>

  beforeAll(async () => {
    env = await linkTinybusPlugin()
    root = await tempDir('bw-text-output-')
  })
  afterAll(removeTempDirs)

  /** Stdout has nothing a terminal acts on, and `lines` lines. */
  const expectInert = (stdout: string) => {
    expect(stdout).not.toMatch(RAW_CONTROL)
    return stdout.split('\n')
  }

  it('verify: an output key and record values full of terminal controls', async () => {
    const output = new LocalStorage(path.join(root, 'verify'))
    await buildDataset(undefined, output, {weeks: 2})
    // An output under a folder whose name drives the terminal, without a manifest (so its key is printed).
    const from = new Date('2024-01-15T00:00:00Z')
    const record = {vehicleID: 7, latitude: 45.5, longitude: -122.6, routeNumber: 1, signMessage: HOSTILE, offRoute: false, time: from.getTime(), snapshot_time: from.toISOString()}
    await writeOutput(output, `${HOSTILE}/2024-W03.jsonl.gz`, [JSON.stringify(record)], {bucket: {key: '2024-W03', from: from.toISOString(), to: '2024-01-22T00:00:00.000Z'}, inputs: []})
    await output.delete([`_manifests/${HOSTILE}/2024-W03.jsonl.gz.json`])
    const run = await runCli(['verify', output.pathOf(''), '--source', 'tinybus', '--check', "-- name: hostile\nSELECT signMessage FROM records WHERE signMessage LIKE '%RED%'"], {env})
    expect(run.code).toBe(3)
    const lines = expectInert(run.stdout)
    expect(lines).toContain(`  NO_MANIFEST  ${SHOWN}/2024-W03.jsonl.gz has no manifest (_manifests/${SHOWN}/2024-W03.jsonl.gz.json): its record count and checksums were not checked`)
    // The record value, as JSON (C0 escaped by JSON) and printable (C1 and bidi escaped too).
    expect(lines.find((line) => line.startsWith('FAIL    sql:hostile'))).toMatch(/^FAIL\s+sql:hostile\s+returned 1 row\(s\), e\.g\. \{"signMessage":"\\u001b\[31mRED\\r\\nFAKE LINE\\u0007\\x9b2J\\u202eevil"\}$/)
    expect(lines.some((line) => line.startsWith('FAKE LINE'))).toBe(false)
    // stderr: the step naming the key and the failed check are escaped too.
    expect(run.stderr).toContain(`INFO Read ${SHOWN}/2024-W03.jsonl.gz: 1`)
    expect(run.stderr).toContain('ERROR Check sql:hostile failed: returned 1 row(s), e.g. {"signMessage":"\\u001b[31mRED\\r\\nFAKE LINE\\u0007\\x9b2J\\u202eevil"}')
  })

  it('ls: an object key cannot add or rewrite a line', async () => {
    const dir = path.join(root, 'ls')
    await fs.mkdir(dir)
    await fs.writeFile(path.join(dir, `a${HOSTILE}.txt`), 'x')
    await fs.writeFile(path.join(dir, 'b.txt'), 'y')
    const run = await runCli(['ls', dir], {env})
    expect(run.code).toBe(0)
    const lines = expectInert(run.stdout).filter(Boolean)
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(new RegExp(`\\s1  a${SHOWN.replaceAll('\\', '\\\\').replaceAll('[', '\\[')}\\.txt$`))
  })

  it('convert --validate: a quarantine reason and a schema example, escaped, the example shortened', async () => {
    const raw = path.join(root, 'convert-raw', 'raw')
    await fs.mkdir(raw, {recursive: true})
    const vehicle = {vehicleID: 1, latitude: `${'x'.repeat(5000)}${HOSTILE}`, longitude: -122.6, routeNumber: 1, signMessage: 'ok', offRoute: false, time: 1}
    await fs.writeFile(path.join(raw, 'tinybus__2024-01-02__00-00-00.json'), JSON.stringify([vehicle]))
    await fs.writeFile(path.join(raw, 'tinybus__2024-01-02__00-01-00.json'), `${HOSTILE} is not JSON`)
    const out = path.join(root, 'convert-out')
    const json = await runCli(['convert', path.dirname(raw), out, '--source', 'tinybus', '--validate', '--json'], {env})
    expect(json.code).toBe(4)
    const result = JSON.parse(json.stdout) as ConvertResult
    const violation = result.validation!.violations.find((entry) => entry.path === 'latitude')!
    expect(violation.example).toEqual({value: `${'x'.repeat(199)}…`, truncated: true, where: 'raw/tinybus__2024-01-02__00-00-00.json'})

    const text = await runCli(['convert', path.dirname(raw), path.join(root, 'convert-out-2'), '--source', 'tinybus', '--validate'], {env})
    expect(text.code).toBe(4)
    const lines = expectInert(text.stdout)
    const quarantined = lines.find((line) => line.includes('quarantined raw/tinybus__2024-01-02__00-01-00.json'))!
    // V8's JSON.parse message quotes the start of the body: its ESC, CR and LF arrive escaped.
    expect(quarantined).toMatch(/^ {4}quarantined raw\/tinybus__2024-01-02__00-01-00\.json: undecodable: .*\\x1b\[31mRED\\r\\n/)
    expect(lines).toContain(`    latitude: 1× must be number, e.g. ${'x'.repeat(199)}… (shortened) at raw/tinybus__2024-01-02__00-00-00.json`)
    expect(lines.every((line) => line.length < 400)).toBe(true)
  })
})
