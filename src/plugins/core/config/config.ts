import fs from 'node:fs/promises'
import path from 'node:path'

import {UserError} from '../errors/errors.js'
import {makeDirectory} from '../storage/make-directory.js'

/** Storage settings shared by every command, in the config file under `storage`. */
export interface StorageSettings {
  endpoint?: string
  region?: string
  profile?: string
  anonymous?: boolean
  forcePathStyle?: boolean
}

/** One scheduled job written by `init` (convert, verify, etl, compact, upload-daemon). */
export interface JobSettings {
  command: string
  args: string[]
  schedule?: string
}

/** The config file's shape (`config.json` in oclif's config dir, or `--config` / `BUCKETWRIGHT_CONFIG`). */
export interface BucketwrightConfig {
  storage?: StorageSettings
  source?: string
  location?: string
  jobs?: Record<string, JobSettings>
  /** Per-command defaults: `{"convert": {"bucket": "day"}}`, applied under env and flags. */
  commands?: Record<string, Record<string, unknown>>
}

/** Where the config file lives: an explicit path, `BUCKETWRIGHT_CONFIG`, or `<configDir>/config.json`. */
export function configPath(configDir: string, explicit?: string): string {
  return explicit ?? process.env.BUCKETWRIGHT_CONFIG ?? path.join(configDir, 'config.json')
}

/** Reads the config file; a missing file is an empty config, a malformed one an error naming the file. */
export async function loadConfig(file: string): Promise<BucketwrightConfig> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw error
  }
  try {
    return JSON.parse(text) as BucketwrightConfig
  } catch (error) {
    throw new UserError(`The config file ${file} is not valid JSON: ${(error as Error).message}`, {
      code: 'BAD_CONFIG',
      nextSteps: [`Fix or delete ${file}, or write a new one with \`bucketwright init\`.`],
    })
  }
}

/** Writes the config file atomically (temp file + rename), creating its directory. */
export async function saveConfig(file: string, config: BucketwrightConfig): Promise<void> {
  await makeDirectory(path.dirname(file))
  const temp = `${file}.${process.pid}.tmp`
  await fs.writeFile(temp, JSON.stringify(config, null, 2) + '\n', {mode: 0o600})
  await fs.rename(temp, file)
}
