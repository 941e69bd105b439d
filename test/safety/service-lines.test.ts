import {execFileSync} from 'node:child_process'
import {chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {cronArgument, systemdArgument} from '../../src/plugins/core/config/service-lines.js'
import {cronLines, systemdUnits} from '../../src/plugins/core/init/schedule.js'
import {systemdUnit} from '../../src/plugins/core/upload-daemon/systemd.js'

/** A folder name a user could really have, written to break a unit or crontab line that does not quote it. */
const HOSTILE = `/srv/exp "q" \\ it's 100% $HOME\n[Service]\nExecStartPre=/bin/rm -rf /`
const AWKWARD = `/srv/exp "q" \\ it's 100% $HOME`

const dir = mkdtempSync(path.join(os.tmpdir(), 'bw-service-lines-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

/** systemd's reading of one argument: double quotes with C escapes, `%%`, and on command lines `$$` (systemd.syntax). */
function systemdRead(word: string, exec = true): string {
  const inner = word.startsWith('"') ? word.slice(1, -1).replace(/\\(x[0-9a-f]{2}|.)/g, (_, e: string) => (e.startsWith('x') && e.length === 3 ? String.fromCharCode(Number.parseInt(e.slice(1), 16)) : e)) : word
  const unescaped = inner.replaceAll('%%', '%')
  return exec ? unescaped.replaceAll('$$', '$') : unescaped
}

describe('lines for systemd and cron carry any path exactly, and nothing more', () => {
  const unit = systemdUnit({
    node: '/usr/bin/node',
    bin: '/opt/bw/bin/run.js',
    directory: HOSTILE,
    workingDirectory: '/srv',
    interval: 60,
    stability: 30,
    region: 'us-east-1',
    concurrency: 16,
    bucketMap: [`raw=${AWKWARD}`],
    exclude: ['*.tmp'],
    includeTemp: false,
  })

  it('a path with a line break cannot add a line or a setting to the upload-daemon unit', () => {
    const lines = unit.split('\n')
    expect(lines.filter((line) => /^\s*ExecStartPre/.test(line))).toEqual([])
    expect(lines.filter((line) => line === '[Service]')).toHaveLength(1)
    expect(lines.filter((line) => line.startsWith('Description='))).toHaveLength(1)
    // systemd would expand %h and $HOME in the values: both are escaped.
    expect(unit).not.toMatch(/[^%]%[^%]/)
  })

  it('the Environment and ExecStart values read back as the values given', () => {
    const root = /^Environment=(.*S3_ROOT_DIR=.*)$/m.exec(unit)![1]
    // The root as an absolute path (the trailing slash of HOSTILE's "rm -rf /" goes in normalising): the same folder.
    expect(systemdRead(root, false)).toBe(`S3_ROOT_DIR=${path.resolve(HOSTILE)}`)
    const exec = /^ExecStart=(.*)$/m.exec(unit)![1]
    const words = exec.match(/"(?:\\.|[^"\\])*"|\S+/g)!
    expect(words.map((word) => systemdRead(word))).toEqual(['/usr/bin/node', '/opt/bw/bin/run.js', 'upload-daemon', '--bucket-map', `raw=${AWKWARD}`, '--exclude', '*.tmp'])
  })

  it('init units and timers quote job arguments the same way', () => {
    const units = systemdUnits({jobs: {nightly: {command: 'convert', args: [AWKWARD, '/out'], schedule: '0 3 * * *'}}} as never, {
      node: '/usr/bin/node',
      bin: '/opt/bw/bin/run.js',
      configFile: '/etc/bw.json',
      workingDirectory: '/srv',
    })
    const exec = /^ExecStart=(.*)$/m.exec(units[0].content)![1]
    expect(exec.match(/"(?:\\.|[^"\\])*"|\S+/g)!.map((word) => systemdRead(word))).toEqual(['/usr/bin/node', '/opt/bw/bin/run.js', 'convert', AWKWARD, '/out', '--config', '/etc/bw.json'])
  })

  it("a cron line gives the program exactly its arguments, through cron's % rule and a real shell", () => {
    // The "CLI" prints the arguments it got, as JSON.
    const bin = path.join(dir, 'print-args')
    writeFileSync(bin, `#!${process.execPath}\nprocess.stdout.write(JSON.stringify(process.argv.slice(2)))\n`)
    chmodSync(bin, 0o755)
    const [line] = cronLines({jobs: {nightly: {command: 'convert', args: [AWKWARD, '/out'], schedule: '0 3 * * *'}}} as never, {
      node: process.execPath,
      bin,
      configFile: '/etc/bw.json',
      logDir: dir,
      workingDirectory: dir,
    })
    const command = line
      .split(' ')
      .slice(5)
      .join(' ')
      .replace(/ >> .*$/, '')
    // What cron does before the shell sees the line: an unescaped % ends the command; \% is a literal %.
    expect(command).not.toMatch(/(^|[^\\])%/)
    const out = execFileSync('/bin/sh', ['-c', command.replaceAll('\\%', '%')], {encoding: 'utf8'})
    expect(JSON.parse(out)).toEqual(['convert', AWKWARD, '/out', '--config', '/etc/bw.json'])
  })

  it('cron lines run as cron runs them (bare PATH, started in $HOME): absolute Node, bin, config and log, in the working directory', () => {
    // The "CLI" reports where it runs and what it got; found only through the line's own absolute paths.
    const bin = path.join(dir, 'report.js')
    writeFileSync(bin, 'process.stdout.write(JSON.stringify({cwd: process.cwd(), argv: process.argv.slice(2)}))\n')
    const project = path.join(dir, 'my project')
    mkdirSync(path.join(project, 'logs'), {recursive: true})
    // Relative paths as a user gives them, from the folder init runs in.
    const options = {node: process.execPath, bin, configFile: 'bw.json', logDir: 'logs', workingDirectory: project}
    const [line] = cronLines({jobs: {nightly: {command: 'verify', args: ['/out'], schedule: '0 3 * * *'}}} as never, options)
    const command = line.split(' ').slice(5).join(' ')
    execFileSync('/bin/sh', ['-c', command.replaceAll('\\%', '%')], {cwd: os.homedir(), env: {PATH: '/usr/bin:/bin', HOME: os.homedir()}})
    const report = JSON.parse(readFileSync(path.join(project, 'logs', 'nightly.log'), 'utf8'))
    expect(report).toEqual({cwd: project, argv: ['verify', '/out', '--config', path.join(project, 'bw.json')]})

    const [service] = systemdUnits({jobs: {nightly: {command: 'verify', args: ['/out'], schedule: '0 3 * * *'}}} as never, options)
    expect(service.content).toContain(`WorkingDirectory=${project}\n`)
    const exec = /^ExecStart=(.*)$/m
      .exec(service.content)![1]
      .match(/"(?:\\.|[^"\\])*"|\S+/g)!
      .map((word) => systemdRead(word))
    expect(exec).toEqual([process.execPath, bin, 'verify', '/out', '--config', path.join(project, 'bw.json')])

    const daemon = systemdUnit({
      node: process.execPath,
      bin,
      directory: 'output/s3',
      workingDirectory: project,
      interval: 60,
      stability: 30,
      region: 'us-east-1',
      concurrency: 16,
      bucketMap: [],
      exclude: [],
      includeTemp: false,
    })
    expect(daemon).toContain(`WorkingDirectory=${project}\n`)
    expect(daemon).toContain(`Environment="S3_ROOT_DIR=${path.join(project, 'output', 's3')}"`)
    expect(/^ExecStart=(.*)$/m.exec(daemon)![1]).toBe(`${systemdArgument(process.execPath)} ${systemdArgument(bin)} upload-daemon`)
  })

  it('a line break, which no crontab line can hold, is refused with a usage error', () => {
    expect(() => cronArgument(HOSTILE)).toThrow(expect.objectContaining({code: 'UNSCHEDULABLE_PATH', exitCode: 2}))
    expect(systemdArgument('plain/path-1.2')).toBe('plain/path-1.2')
  })
})
