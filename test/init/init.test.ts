import {mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {listAwsProfiles} from '../../src/plugins/core/init/aws-profiles.js'
import {BIN, ROOT, runCli} from '../helpers/cli.js'
import {createTestBucket, s3Endpoint} from '../helpers/s3.js'
import {TmuxTerminal} from './tmux.js'

describe('bucketwright init', () => {
  let home: string
  let bucket: string
  let env: Record<string, string | undefined>

  beforeAll(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'bw-init-'))
    bucket = await createTestBucket('bw-init')
    await writeFile(path.join(home, 'aws-config'), '[default]\nregion = us-east-1\n\n[profile research]\nregion = us-east-1\n\n[sso-session corp]\nsso_region = us-east-1\n')
    await writeFile(path.join(home, 'aws-credentials'), '[research]\naws_access_key_id = research-key\naws_secret_access_key = research-secret\n\n[ci]\naws_access_key_id = ci\naws_secret_access_key = ci\n')
    // Only the profile's keys: no credentials in the environment, no endpoint preset.
    env = {
      HOME: home,
      AWS_CONFIG_FILE: path.join(home, 'aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'aws-credentials'),
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      AWS_PROFILE: undefined,
      AWS_REGION: undefined,
      BUCKETWRIGHT_ENDPOINT: undefined,
      BUCKETWRIGHT_RETRY_BASE_MS: '5',
      BUCKETWRIGHT_DATA_DIR: path.join(home, 'data'),
      BUCKETWRIGHT_CONFIG_DIR: path.join(home, 'config'),
      BUCKETWRIGHT_CACHE_DIR: path.join(home, 'cache'),
    }
  })
  afterAll(async () => {
    await rm(home, {recursive: true, force: true})
  })

  const flagArgs = (configFile: string, bucketName = bucket) => [
    'init',
    '--yes',
    '--storage',
    's3',
    '--endpoint',
    s3Endpoint(),
    '--credentials',
    'profile',
    '--profile',
    'research',
    '--bucket',
    bucketName,
    '--prefix',
    'raw/',
    '--source',
    'wydot-bsm',
    '--jobs',
    'convert,verify,upload-daemon',
    '--upload-root',
    path.join(home, 'outbox'),
    '--config',
    configFile,
    '--json',
  ]

  it('lists profiles from the AWS config and credentials files, without SSO sessions', async () => {
    expect(await listAwsProfiles({HOME: home, AWS_CONFIG_FILE: env.AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE: env.AWS_SHARED_CREDENTIALS_FILE})).toEqual(['default', 'ci', 'research'])
  })

  it('flags only (--yes, no terminal): checks the bucket live and writes the config, cron lines and units', async () => {
    const configFile = path.join(home, 'flags.json')
    const run = await runCli(flagArgs(configFile), {env})
    expect(run.code, run.stdout + run.stderr).toBe(0)
    const result = JSON.parse(run.stdout)
    const written = JSON.parse(await readFile(configFile, 'utf8'))
    expect(written).toEqual(result.config)
    expect(written).toEqual({
      storage: {region: 'us-east-1', endpoint: s3Endpoint(), forcePathStyle: true, profile: 'research'},
      source: 'wydot-bsm',
      location: `s3://${bucket}/raw/`,
      jobs: {
        convert: {command: 'convert', args: [`s3://${bucket}/raw/`, `s3://${bucket}/raw/converted/`], schedule: '15 * * * *'},
        verify: {command: 'verify', args: [`s3://${bucket}/raw/converted/`], schedule: '30 3 * * *'},
        'upload-daemon': {command: 'upload-daemon', args: ['--directory', path.join(home, 'outbox')], schedule: '* * * * *'},
      },
    })
    expect(result.checkedRegion).toBe('us-east-1')
    expect(result.cron).toHaveLength(3)
    // Absolute Node and bin (cron's PATH may have no Node), run in the folder init ran in (runCli's: the repository).
    expect(result.cron[0]).toBe(
      `15 * * * * cd ${ROOT} && ${process.execPath} ${BIN} convert s3://${bucket}/raw/ s3://${bucket}/raw/converted/ --config ${configFile} >> ${path.join(home, 'cache', 'logs', 'convert.log')} 2>&1`,
    )
    expect(result.systemd[0].content).toContain(`WorkingDirectory=${ROOT}\n`)
    expect(result.systemd[0].content).toContain(`ExecStart=${process.execPath} ${BIN} convert`)
    expect(result.cron[2]).toMatch(/^\* \* \* \* \* .* upload-daemon .* --once --config /)
    expect(result.systemd.map((unit: {name: string}) => unit.name)).toEqual([
      'bucketwright-convert.service',
      'bucketwright-convert.timer',
      'bucketwright-verify.service',
      'bucketwright-verify.timer',
      'bucketwright-upload-daemon.service',
    ])
    expect(result.systemd[1].content).toContain('OnCalendar=*-*-* *:15:00')
    expect(result.systemd[4].content).toMatch(/Type=simple[\s\S]*Restart=on-failure/)
  })

  it('without a terminal and without the needed flags, fails naming them (exit 2)', async () => {
    const run = await runCli(['init', '--storage', 's3', '--config', path.join(home, 'none.json'), '--json'], {env})
    expect(run.code).toBe(2)
    const error = JSON.parse(run.stdout).error
    expect(error.code).toBe('MISSING_FLAGS')
    expect(error.details.missing).toEqual(['bucket', 'source'])
    const profile = await runCli(['init', '--yes', '--storage', 'local', '--path', home, '--credentials', 'profile', '--config', path.join(home, 'none.json'), '--json'], {env})
    expect(JSON.parse(profile.stdout).error.details.missing).toEqual(['source', 'profile'])
  })

  it('without a terminal and without any answer, names every missing flag at once with an example; the examples, filled in, run', async () => {
    const configFile = path.join(home, 'examples.json')
    const bare = await runCli(['init', '--config', configFile, '--json'], {env})
    expect(bare.code).toBe(2)
    const error = JSON.parse(bare.stdout).error
    expect(error.code).toBe('MISSING_FLAGS')
    expect(error.details.missing).toEqual(['storage', 'source'])
    expect(error.message).toContain('--storage (e.g. --storage s3 --bucket my-raw-data)')
    expect(error.message).toContain('--source (e.g. --source bustimes)')
    const local = JSON.parse((await runCli(['init', '--storage', 'local', '--config', configFile, '--json'], {env})).stdout).error
    expect(local.details.examples).toEqual({path: '--path ./raw', source: '--source bustimes'})
    expect(local.nextSteps[0]).toContain('--path ./raw --source bustimes')
    // The example values are real flags with values of the right shape: with the folder made, they answer everything.
    const raw = path.join(home, 'raw')
    await mkdir(raw)
    const filled = local.nextSteps[0].slice(local.nextSteps[0].indexOf('--path')).split(' ')
    const run = await runCli(['init', '--storage', 'local', ...filled, '--config', configFile, '--json'], {env, cwd: home})
    expect(run.code, run.stdout + run.stderr).toBe(0)
    expect(JSON.parse(run.stdout).config.location).toBe(raw)
  })

  it('--path must be an existing folder: a missing one or a file is exit 2, and nothing is written', async () => {
    const configFile = path.join(home, 'bad-path.json')
    const missing = await runCli(['init', '--yes', '--path', path.join(home, 'not-there'), '--source', 'bustimes', '--config', configFile, '--json'], {env})
    expect(missing.code).toBe(2)
    const error = JSON.parse(missing.stdout).error
    expect(error.code).toBe('NO_SUCH_LOCATION')
    expect(error.message).toContain(`--path "${path.join(home, 'not-there')}"`)
    const file = path.join(home, 'aws-config')
    const notFolder = await runCli(['init', '--yes', '--path', file, '--source', 'bustimes', '--config', configFile, '--json'], {env})
    expect(notFolder.code).toBe(2)
    expect(JSON.parse(notFolder.stdout).error.code).toBe('NOT_A_DIRECTORY')
    await expect(readFile(configFile)).rejects.toMatchObject({code: 'ENOENT'})
  })

  it('a bucket that fails the live check is explained, and nothing is written', async () => {
    const configFile = path.join(home, 'missing-bucket.json')
    const run = await runCli(flagArgs(configFile, 'bw-init-no-such-bucket'), {env})
    expect(run.code).toBe(1)
    const error = JSON.parse(run.stdout).error
    expect(error.code).toBe('NO_SUCH_BUCKET')
    expect(error.message).toMatch(/bw-init-no-such-bucket/)
    expect(error.nextSteps.length).toBeGreaterThan(0)
    await expect(readFile(configFile)).rejects.toMatchObject({code: 'ENOENT'})
  })

  it('an existing config is kept unless --force', async () => {
    const configFile = path.join(home, 'flags.json')
    const run = await runCli(flagArgs(configFile), {env})
    expect(run.code).toBe(1)
    expect(JSON.parse(run.stdout).error.code).toBe('CONFIG_EXISTS')
    expect((await runCli([...flagArgs(configFile), '--force'], {env})).code).toBe(0)
  })

  it('the wizard in a real terminal (tmux): re-asks after a failed bucket check, picks a profile, writes the same config as the flags', async () => {
    const configFile = path.join(home, 'wizard.json')
    const script = path.join(home, 'wizard.sh')
    const exports = Object.entries(env).map(([key, value]) => (value === undefined ? `unset ${key}` : `export ${key}='${value}'`))
    await writeFile(script, ['#!/bin/bash', ...exports, `cd '${ROOT}'`, `'${process.execPath}' '${BIN}' init --config '${configFile}'`, `echo "EXIT:$?"`].join('\n') + '\n')
    const terminal = new TmuxTerminal()
    try {
      await terminal.start(`bash '${script}'`)
      await terminal.waitFor(/Where is the raw data\?/)
      await terminal.press('Enter') // S3
      await terminal.waitFor(/S3 endpoint URL/)
      await terminal.type(s3Endpoint())
      await terminal.press('Enter')
      await terminal.waitFor(/Credentials:/)
      await terminal.press('Down', 'Enter') // a profile
      await terminal.waitFor(/AWS profile:[\s\S]*research/)
      await terminal.press('Down', 'Down', 'Enter') // default, ci, research
      await terminal.waitFor(/Bucket:/)
      await terminal.type('bw-init-not-there')
      await terminal.press('Enter')
      await terminal.waitFor(/Prefix of the raw data/)
      await terminal.type('raw/')
      await terminal.press('Enter')
      await terminal.waitFor(/Region \(empty/)
      await terminal.press('Enter')
      // The check fails: explained, then the S3 questions again with the answers as defaults.
      const failure = await terminal.waitFor(/Checking bucket bw-init-not-there failed/)
      expect(failure).toMatch(/Bucket "bw-init-not-there" does not exist at http:\/\/127\.0\.0\.1/)
      expect(failure).toMatch(/→ Check the bucket name/)
      await terminal.waitFor(/S3 endpoint URL/, 2)
      await terminal.press('Enter')
      await terminal.waitFor(/Credentials:/, 2)
      await terminal.press('Enter')
      await terminal.waitFor(/AWS profile:/, 2)
      await terminal.press('Enter')
      await terminal.waitFor(/Bucket:/, 2)
      await terminal.type(bucket)
      await terminal.press('Enter')
      await terminal.waitFor(/Prefix of the raw data/, 2)
      await terminal.press('Enter')
      await terminal.waitFor(/Region \(empty/, 2)
      await terminal.press('Enter')
      await terminal.waitFor(new RegExp(`Bucket ${bucket} answered \\(region us-east-1\\)`))
      await terminal.waitFor(/Data source:/)
      await terminal.type('wydot')
      await terminal.press('Enter')
      await terminal.waitFor(/Jobs to set up/)
      await terminal.press('Down', 'Down', 'Down', 'Down', 'Space', 'Enter') // convert, verify are preselected; add upload-daemon
      await terminal.waitFor(/Where should outputs go\?/)
      await terminal.press('Enter')
      await terminal.waitFor(/upload daemon watches/)
      await terminal.type(path.join(home, 'outbox'))
      await terminal.press('Enter')
      const screen = await terminal.waitFor(/EXIT:\d+/)
      expect(screen).toContain('EXIT:0')
      expect(screen).toMatch(/crontab -e/)
    } finally {
      await terminal.stop()
    }
    const fromWizard = JSON.parse(await readFile(configFile, 'utf8'))
    const fromFlags = JSON.parse(await readFile(path.join(home, 'flags.json'), 'utf8'))
    expect(fromWizard).toEqual(fromFlags)
  })

  it('the wizard in a real terminal (tmux): a local folder that does not exist is refused, and asked again', async () => {
    const configFile = path.join(home, 'wizard-local.json')
    const script = path.join(home, 'wizard-local.sh')
    const exports = Object.entries(env).map(([key, value]) => (value === undefined ? `unset ${key}` : `export ${key}='${value}'`))
    await writeFile(script, ['#!/bin/bash', ...exports, `'${process.execPath}' '${BIN}' init --config '${configFile}'`, `echo "EXIT:$?"`].join('\n') + '\n')
    const terminal = new TmuxTerminal()
    try {
      await terminal.start(`bash '${script}'`)
      await terminal.waitFor(/Where is the raw data\?/)
      await terminal.press('Down', 'Enter') // a local directory
      await terminal.waitFor(/Directory of the raw data/)
      await terminal.type(path.join(home, 'no-such-raw'))
      await terminal.press('Enter')
      const refused = await terminal.waitFor(/does not exist/)
      expect(refused).toContain(path.join(home, 'no-such-raw'))
      expect(refused).not.toMatch(/Data source:/)
      await terminal.press('C-u')
      await terminal.type(home)
      await terminal.press('Enter')
      await terminal.waitFor(/Data source:/)
      await terminal.press('C-c')
      await terminal.waitFor(/EXIT:\d+/)
    } finally {
      await terminal.stop()
    }
  })

  it('Ctrl+C in the wizard stops cleanly: exit 1, a message, no config file', async () => {
    const configFile = path.join(home, 'cancelled.json')
    const script = path.join(home, 'cancel.sh')
    const exports = Object.entries(env).map(([key, value]) => (value === undefined ? `unset ${key}` : `export ${key}='${value}'`))
    await writeFile(script, ['#!/bin/bash', ...exports, `'${process.execPath}' '${BIN}' init --config '${configFile}'`, `echo "EXIT:$?"`].join('\n') + '\n')
    const terminal = new TmuxTerminal()
    try {
      await terminal.start(`bash '${script}'`)
      await terminal.waitFor(/Where is the raw data\?/)
      await terminal.press('C-c')
      const screen = await terminal.waitFor(/EXIT:\d+/)
      expect(screen).toContain('init was stopped; nothing was written.')
      expect(screen).toContain('EXIT:1')
    } finally {
      await terminal.stop()
    }
    await expect(readFile(configFile)).rejects.toMatchObject({code: 'ENOENT'})
  })
})
