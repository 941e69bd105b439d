import type {Command} from '@oclif/core'
import {Parser} from '@oclif/core'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {pathToFileURL} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ROOT, runCli} from '../helpers/cli.js'
import {createTestBucket, s3Env} from '../helpers/s3.js'

// One input, one meaning, in every command: a size, a duration and an instant are parsed by one flag factory each,
// and config-file defaults go through the same parsers for every command.

type Flag = Command.Flag.Any & {multiple?: boolean}

/** Every command class under src/commands, by its id as typed (`upload-daemon run`). */
async function commandClasses(): Promise<Map<string, typeof Command>> {
  const dir = path.join(ROOT, 'src', 'commands')
  const files = (await fs.readdir(dir, {recursive: true})).filter((file) => file.endsWith('.ts')).sort()
  const found = new Map<string, typeof Command>()
  for (const file of files) {
    const module = (await import(pathToFileURL(path.join(dir, file)).href)) as {default?: typeof Command}
    if (module.default)
      found.set(
        file
          .replace(/\.ts$/, '')
          .replace(/\/index$/, '')
          .replaceAll('/', ' '),
        module.default,
      )
  }
  return found
}

/** What one flag makes of one value on its own (`undefined` when it rejects it). */
async function parseAlone(name: string, flag: Flag, value: string): Promise<unknown> {
  if (flag.type !== 'option') return undefined
  const alone = {...flag, required: false, exclusive: undefined, dependsOn: undefined, exactlyOne: undefined, relationships: undefined, env: undefined, default: undefined}
  try {
    const {flags} = await Parser.parse([`--${name}=${value}`], {flags: {[name]: alone} as never, args: {}, strict: true})
    return flags[name]
  } catch {
    return undefined
  }
}

/** For each command and flag: what the flag makes of `value`, for the flags that take it. */
async function meanings(value: string): Promise<Map<string, unknown>> {
  const result = new Map<string, unknown>()
  for (const [id, command] of await commandClasses()) {
    for (const [name, flag] of Object.entries({...command.baseFlags, ...command.flags} as Record<string, Flag>)) {
      const parsed = await parseAlone(name, flag, value)
      if (parsed !== undefined) result.set(`${id} --${name}`, Array.isArray(parsed) ? parsed[0] : parsed)
    }
  }
  return result
}

describe('one meaning of a size, a duration and an instant in every command', () => {
  it('2GB is 2×10⁹ bytes and 2GiB is 2×2³⁰ in every flag that takes a size; a size flag never keeps the raw text', async () => {
    const decimal = await meanings('2GB')
    const binary = await meanings('2GiB')
    const sizeFlags = [...decimal].filter(([, value]) => typeof value === 'number').map(([where]) => where)
    // The flags that disagreed before (verify's --disk-budget was 2×1024³, its --memory-limit a raw string) are here.
    expect(sizeFlags).toEqual(
      expect.arrayContaining(['verify --disk-budget', 'verify --memory-limit', 'compact --disk-budget', 'compact --memory-limit', 'compact --target-size', 'fetch --cache-max-size', 'ingest --rotate-size']),
    )
    for (const where of sizeFlags) {
      expect(decimal.get(where), where).toBe(2e9)
      expect(binary.get(where), where).toBe(2 * 1024 ** 3)
    }
    // Anything named like a size, budget or memory limit is parsed into bytes, not handed on as "2GB".
    const named = [...decimal.keys()].filter((where) => /size|budget|memory/.test(where))
    expect(named.length).toBeGreaterThan(0)
    for (const where of named) expect(typeof decimal.get(where), where).toBe('number')
  })

  it('90s and 2d are the same milliseconds in every flag that takes a duration', async () => {
    const seconds = await meanings('90s')
    const days = await meanings('2d')
    const durationFlags = [...seconds].filter(([, value]) => typeof value === 'number').map(([where]) => where)
    expect(durationFlags).toEqual(expect.arrayContaining(['compact --min-age', 'fetch --cache-ttl', 'ingest --rotate-age', 'etl --interval']))
    for (const where of durationFlags) {
      expect(seconds.get(where), where).toBe(90_000)
      expect(days.get(where), where).toBe(2 * 86_400_000)
    }
  })

  it('2021-W45 is Monday 2021-11-08 00:00 UTC in every flag that takes an instant', async () => {
    const week = await meanings('2021-W45')
    const instants = [...week].filter(([, value]) => value instanceof Date).map(([where]) => where)
    expect(instants).toEqual(expect.arrayContaining(['convert --from', 'convert --to', 'fetch --from', 'fetch --to', 'generate --from', 'generate --to']))
    for (const where of instants) expect((week.get(where) as Date).toISOString(), where).toBe('2021-11-08T00:00:00.000Z')
    // A flag named --from or --to that kept the text would mean whatever its service made of it (etl's and load's --to
    // are a destination, not a time).
    const destinations = new Set(['etl --to', 'load --to'])
    const named = [...week.keys()].filter((key) => / --(from|to)$/.test(key) && !destinations.has(key))
    expect(named.length).toBeGreaterThanOrEqual(6)
    for (const where of named) expect(week.get(where), where).toBeInstanceOf(Date)
  })
})

describe('--from 2021-W45 end to end: generate, fetch and convert read the same instant', () => {
  let tmp: string
  let bucket: string
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'bw-one-meaning-'))
    bucket = await createTestBucket('bw-one-meaning')
  })
  afterAll(async () => {
    await fs.rm(tmp, {recursive: true, force: true})
  })

  it('writes, fetches and converts exactly the objects from the Monday of week 45', async () => {
    // The range starts a minute before the week, so an instant read one way in one command and another way in the
    // next (a day off, local time, the week's Sunday) would show in the objects counted.
    const env = s3Env()
    const generated = await runCli(['generate', `s3://${bucket}/`, '--source', 'bustimes', '--from', '2021-11-07T23:00', '--to', '2021-11-08T01:00', '--rate', '6', '--json'], {env})
    expect(generated.code, generated.stderr).toBe(0)
    expect(JSON.parse(generated.stdout)).toMatchObject({objects: 12})

    const fetched = await runCli(['fetch', `s3://${bucket}/`, path.join(tmp, 'raw'), '--source', 'bustimes', '--from', '2021-W45', '--to', '2021-11-08T01:00', '--no-cache', '--json'], {env})
    expect(fetched.code, fetched.stderr).toBe(0)
    const fetch = JSON.parse(fetched.stdout) as {from: string; objects: number; outsideRange: number}
    expect(fetch.from).toBe('2021-11-08T00:00:00.000Z')
    expect(fetch.objects).toBe(6)

    const onlyWeek = await runCli(['generate', path.join(tmp, 'week'), '--source', 'bustimes', '--from', '2021-W45', '--to', '2021-11-08T01:00', '--rate', '6', '--json'])
    expect(onlyWeek.code, onlyWeek.stderr).toBe(0)
    expect(JSON.parse(onlyWeek.stdout)).toMatchObject({from: '2021-11-08T00:00:00.000Z', objects: 6})

    const converted = await runCli(['convert', path.join(tmp, 'raw'), path.join(tmp, 'out'), '--source', 'bustimes', '--from', '2021-W45', '--to', '2021-11-09', '--bucket', 'day', '--threads', '0', '--json'])
    expect(converted.code, converted.stderr).toBe(0)
    const convert = JSON.parse(converted.stdout) as {from: string; buckets: {key: string; objects: number}[]}
    expect(convert.from).toBe('2021-11-08T00:00:00.000Z')
    expect(convert.buckets.map((b) => [b.key, b.objects])).toEqual([['2021-11-08', 6]])
  })
})

describe('config-file defaults for every command, through BaseCommand', () => {
  let tmp: string
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'bw-config-defaults-'))
  })
  afterAll(async () => {
    await fs.rm(tmp, {recursive: true, force: true})
  })

  const configFile = async (name: string, commands: Record<string, unknown>) => {
    const file = path.join(tmp, `${name}.json`)
    await fs.writeFile(file, JSON.stringify({commands}))
    return file
  }
  const generate = (config: string, ...extra: string[]) =>
    runCli(['generate', path.join(tmp, `gen-${Math.random().toString(36).slice(2)}`), '--from', '2021-11-08', '--to', '2021-11-08T01:00', '--config', config, '--json', ...extra], {env: {BUCKETWRIGHT_SOURCE: undefined}})

  it('generate: values from commands.generate apply; a flag on the command line and a BUCKETWRIGHT_* variable win', async () => {
    const config = await configFile('generate', {generate: {source: 'wydot-bsm', seed: 7, rate: 4}})
    const fromFile = await generate(config)
    expect(fromFile.code, fromFile.stderr).toBe(0)
    expect(JSON.parse(fromFile.stdout)).toMatchObject({source: 'wydot-bsm', seed: 7, rate: 4})

    const flagWins = await generate(config, '--seed', '9')
    expect(JSON.parse(flagWins.stdout)).toMatchObject({source: 'wydot-bsm', seed: 9, rate: 4})

    const envWins = await runCli(['generate', path.join(tmp, 'gen-env'), '--from', '2021-11-08', '--to', '2021-11-08T01:00', '--config', config, '--json'], {env: {BUCKETWRIGHT_SOURCE: 'bustimes'}})
    expect(envWins.code, envWins.stderr).toBe(0)
    expect(JSON.parse(envWins.stdout)).toMatchObject({source: 'bustimes', seed: 7, rate: 4, objects: 4})
  })

  it('convert: a choice flag from commands.convert (bucket), overridden by the command line', async () => {
    const raw = path.join(tmp, 'convert-raw')
    expect((await runCli(['generate', raw, '--source', 'bustimes', '--from', '2021-11-08T10', '--to', '2021-11-08T11', '--rate', '4', '--json'])).code).toBe(0)
    const config = await configFile('convert', {convert: {bucket: 'day', source: 'bustimes', threads: 0, 'dry-run': true}})
    const fromFile = await runCli(['convert', raw, path.join(tmp, 'convert-out'), '--config', config, '--json'])
    expect(fromFile.code, fromFile.stderr).toBe(0)
    expect(JSON.parse(fromFile.stdout)).toMatchObject({bucket: 'day', dryRun: true, buckets: [{key: '2021-11-08'}]})
    const flagWins = await runCli(['convert', raw, path.join(tmp, 'convert-out'), '--config', config, '--bucket', 'hour', '--json'])
    expect(flagWins.code, flagWins.stderr).toBe(0)
    expect(JSON.parse(flagWins.stdout)).toMatchObject({bucket: 'hour', dryRun: true, buckets: [{key: '2021-11-08T10'}]})
  })

  it('a bad value or an unknown key in the config file is a usage error naming the file and the key; nothing is written', async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{generate: {source: 'bustimes', rate: 'lots'}}, 'BAD_CONFIG_VALUE', /"rate"/],
      [{generate: {source: 'bustimes', rate: 0}}, 'BAD_CONFIG_VALUE', /"rate"/],
      [{convert: {source: 'bustimes', from: '2021-02-30'}}, 'BAD_CONFIG_VALUE', /"from"/],
      [{convert: {source: 'bustimes', bucket: 'fortnight'}}, 'BAD_CONFIG_VALUE', /"bucket"/],
      [{generate: {source: 'bustimes', seed: [1, 2]}}, 'BAD_CONFIG_VALUE', /"seed"/],
      [{generate: {source: 'bustimes', sead: 1}}, 'BAD_CONFIG_KEY', /"sead"/],
      [{generate: 'seed=1'}, 'BAD_CONFIG_VALUE', /generate/],
      [{verify: {'disk-budget': 'two gigabytes'}}, 'BAD_CONFIG_VALUE', /"disk-budget"/],
    ]
    for (const [index, [commands, code, key]] of cases.entries()) {
      const config = await configFile(`bad-${index}`, commands)
      const out = path.join(tmp, `bad-out-${index}`)
      const args =
        'verify' in commands
          ? ['verify', out, '--source', 'bustimes', '--config', config, '--json']
          : 'convert' in commands
            ? ['convert', path.join(tmp, 'convert-raw'), out, '--config', config, '--json']
            : ['generate', out, '--from', '2021-11-08', '--to', '2021-11-08T01:00', '--config', config, '--json']
      const run = await runCli(args)
      const what = JSON.stringify(commands)
      expect(run.code, what + run.stderr).toBe(2)
      const {error} = JSON.parse(run.stdout) as {error: {code: string; message: string}}
      expect(error.code, what).toBe(code)
      expect(error.message, what).toContain(config)
      expect(error.message, what).toMatch(key)
      await expect(fs.stat(out), what).rejects.toThrow(/ENOENT/)
    }
  })
})
