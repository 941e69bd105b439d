import {execFile} from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import {promisify} from 'node:util'
import {describe, expect, it} from 'vitest'

import {ROOT} from '../helpers/cli.js'

const run = promisify(execFile)

// convert's encoder threads load a source's modules; the CLI framework in that graph costs every thread ~150 ms of
// start-up. Built-in sources take their runtime API from the lean `bucketwright/sources` entry point.
describe('lean source modules', () => {
  it('built-in sources import the source kit, never the whole core', async () => {
    const offenders: string[] = []
    for (const name of ['bustimes', 'json', 'coinbase', 'wydot-bsm']) {
      const dir = path.join(ROOT, 'src', 'plugins', name)
      // Subfolders too (bustimes/python-literal/), whose way to core is one more `../`.
      for (const file of (await fs.readdir(dir, {recursive: true})).filter((entry) => entry.endsWith('.ts'))) {
        const text = await fs.readFile(path.join(dir, file), 'utf8')
        if (/from '(\.\.\/)+core\/index\.js'/.test(text.replaceAll(/^import type .*$/gm, ''))) offenders.push(`${name}/${file}`)
      }
    }
    expect(offenders).toEqual([])
  })

  it('loading bucketwright/sources and a built-in source does not load oclif', async () => {
    const script = `
      import {registerHooks} from 'node:module'
      const loaded = []
      registerHooks({resolve(specifier, context, next) { const r = next(specifier, context); loaded.push(r.url); return r }})
      await import('bucketwright/sources')
      const {bustimesSource} = await import('${path.join(ROOT, 'dist', 'plugins', 'bustimes', 'index.js')}')
      if (bustimesSource.name !== 'bustimes') throw new Error('no source')
      console.log(JSON.stringify(loaded.filter((url) => url.includes('@oclif'))))`
    const {stdout} = await run(process.execPath, ['--input-type=module', '-e', script], {cwd: ROOT})
    expect(JSON.parse(stdout)).toEqual([])
  })
})
