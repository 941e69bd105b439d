import {spawnSync} from 'node:child_process'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {ROOT} from '../helpers/cli.js'

const script = `
import {runTasks} from ${JSON.stringify(path.join(ROOT, 'dist/plugins/core/index.js'))}
await runTasks([
  {title: 'list objects', task: async (_ctx, task) => { task.output = 'found 3 keys'; await new Promise(r => setTimeout(r, 20)) }},
  {title: 'write 2024-W01', task: async () => {}},
], {mode: process.argv.at(-1)})
`

describe('progress', () => {
  it('renders plain timestamped lines on stderr when stderr is not a terminal, nothing on stdout', () => {
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script, 'plain'], {encoding: 'utf8'})
    expect(run.status).toBe(0)
    expect(run.stdout).toBe('')
    expect(run.stderr).toMatch(/\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\].*list objects/)
    expect(run.stderr).toMatch(/write 2024-W01/)
  })

  it('renders nothing in silent mode (--json, --quiet)', () => {
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script, 'silent'], {encoding: 'utf8'})
    expect(run.status).toBe(0)
    expect(run.stdout + run.stderr).toBe('')
  })
})
