import {execFile} from 'node:child_process'
import {existsSync} from 'node:fs'
import {mkdtemp, rm, symlink} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ROOT} from '../helpers/cli.js'

const run = promisify(execFile)
// npm (11) keeps a V8 compile cache in the temp folder unless told not to; the suite leaves the temp folder as found.
const npmEnv = {...process.env, NODE_DISABLE_COMPILE_CACHE: '1'}
const version = (JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))) as {version: string}).version

/**
 * What `npm pack` ships, and the packed CLI run from outside the repository. A real `npm install -g` of the tarball
 * would fetch its dependencies from the registry (no network in the suite), so the unpacked package runs against
 * the repository's node_modules, linked beside it as an installed package's would be.
 */
describe('the packed package', () => {
  let work: string
  let unpacked: string

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'bw-pack-'))
    const {stdout} = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], {cwd: ROOT, env: npmEnv})
    const [{filename}] = JSON.parse(stdout) as {filename: string}[]
    await run('tar', ['-xzf', path.join(work, filename), '-C', work])
    unpacked = path.join(work, 'package')
    await symlink(path.join(ROOT, 'node_modules'), path.join(unpacked, 'node_modules'), 'dir')
  }, 120_000)
  afterAll(async () => {
    if (work) await rm(work, {recursive: true, force: true})
  })

  it('holds the built CLI and nothing of the development tree: no sources, tests, scripts, or secrets', async () => {
    const {stdout} = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {cwd: ROOT, env: npmEnv})
    const files = (JSON.parse(stdout) as {files: {path: string}[]}[])[0]!.files.map((file) => file.path)
    for (const needed of ['package.json', 'bin/run.js', 'oclif.manifest.json', 'dist/commands/convert.js', 'dist/plugins/core/index.js', 'dist/plugins/builtin-sources.js']) expect(files).toContain(needed)
    expect(files.filter((file) => /^(src|test|bench|scripts|node_modules|\.git|\.ci|coverage|demo)\//.test(file))).toEqual([])
    expect(files.filter((file) => /(^|\/)(\.env[^/]*|\.npmrc|[^/]*\.pem|[^/]*\.key|credentials|id_rsa[^/]*|aws-config|config\.json)$/.test(file))).toEqual([])
    // The TypeScript build output only: no test files compiled into dist.
    expect(files.filter((file) => /\.test\.js$/.test(file))).toEqual([])
  })

  it('runs from outside the repository: --version, and a small command', async () => {
    const cwd = work
    const bin = path.join(unpacked, 'bin', 'run.js')
    const versionRun = await run(process.execPath, [bin, '--version'], {cwd})
    expect(versionRun.stdout).toMatch(new RegExp(`^bucketwright/${version.replaceAll('.', '\\.')} `))
    const sources = await run(process.execPath, [bin, 'sources', '--json'], {cwd})
    const names = (JSON.parse(sources.stdout) as {sources: {name: string}[]}).sources.map((source) => source.name)
    expect(names).toEqual(expect.arrayContaining(['bustimes', 'json', 'ndjson', 'coinbase', 'wydot-bsm']))
    const generated = await run(process.execPath, [bin, 'generate', path.join(work, 'raw'), '--source', 'bustimes', '--from', '2021-11-08T00', '--to', '2021-11-08T01', '--rate', '6', '--seed', '1', '--json'], {
      cwd,
      env: {...process.env, BUCKETWRIGHT_CONFIG_DIR: path.join(work, 'config'), BUCKETWRIGHT_CACHE_DIR: path.join(work, 'cache')},
    })
    expect(JSON.parse(generated.stdout)).toMatchObject({objects: 6})
    expect(existsSync(path.join(work, 'raw', 'raw'))).toBe(true)
  }, 120_000)
})
