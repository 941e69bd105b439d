import {Config} from '@oclif/core'
import {describe, expect, it} from 'vitest'

import type {SourcesResult} from '../../src/commands/sources.js'
import {SourceRegistry} from '../../src/plugins/core/sources/registry.js'
import {runCli, runInProcess} from '../helpers/cli.js'

describe('bucketwright sources lists the built-in sources', () => {
  it('the built CLI lists bustimes, json and ndjson as built-ins under --json, with a clean stdout', async () => {
    const run = await runCli(['sources', '--json'])
    expect(run.code, run.stderr).toBe(0)
    const result = JSON.parse(run.stdout) as SourcesResult
    const names = result.sources.map((source) => source.name)
    expect(names).toEqual(expect.arrayContaining(['bustimes', 'json', 'ndjson']))
    for (const name of ['bustimes', 'json', 'ndjson']) {
      const listing = result.sources.find((source) => source.name === name)!
      expect(listing.builtIn, name).toBe(true)
      expect(listing.plugin, name).toBe('bucketwright')
      expect(listing.description.length, name).toBeGreaterThan(20)
    }
    expect(result.brokenPlugins).toEqual([])
  })

  it('returns them in process as the JSON contract', async () => {
    const {result, exitCode} = await runInProcess<SourcesResult>(['sources', '--json'])
    expect(exitCode).toBe(0)
    expect(result?.sources.map((source) => source.name)).toEqual(expect.arrayContaining(['bustimes', 'json', 'ndjson']))
  })

  it('prints a table without --json', async () => {
    const {stdout, code} = await runCli(['sources'])
    expect(code).toBe(0)
    expect(stdout).toMatch(/^bustimes\s+built-in\s+TriMet vehicle positions/m)
    expect(stdout).toMatch(/^ndjson\s+built-in\s+Newline-delimited JSON/m)
  })

  it('loads only the asked-for source when factories name theirs, and the whole list otherwise', async () => {
    const config = await Config.load({root: process.cwd()})
    const one = await SourceRegistry.load(config, {only: 'bustimes'})
    expect(one.list().map((source) => source.name)).toEqual(['bustimes'])
    expect(one.partial).toBe(true)
    const all = await SourceRegistry.load(config)
    expect(all.list().map((source) => source.name)).toEqual(expect.arrayContaining(['bustimes', 'coinbase', 'json', 'ndjson', 'wydot-bsm']))
    expect(all.partial).toBe(false)
  })

  it('an unknown --source names every source there is, not only those loaded for the lookup', async () => {
    const run = await runCli(['convert', 'in/', 'out/', '--source', 'bustime', '--json'])
    expect(run.code).toBe(2)
    const {error} = JSON.parse(run.stdout) as {error: {code: string; nextSteps: string[]}}
    expect(error.code).toBe('UNKNOWN_SOURCE')
    expect(error.nextSteps[0]).toBe('Available: bustimes, coinbase, json, ndjson, wydot-bsm.')
  })
})
