import {type Interfaces, Parser} from '@oclif/core'

import {UsageError} from '../errors/errors.js'
import type {BucketwrightConfig} from './config.js'

/** Flags that make no sense as a stored default: the config file itself, and help. */
const NOT_FROM_CONFIG = new Set(['config', 'help', 'version'])

/** The config-file key of a command: its id as typed (`upload-daemon status`), not oclif's `upload-daemon:status`. */
export function commandKey(id: string): string {
  return id.replaceAll(':', ' ')
}

/**
 * Applies the config file's per-command defaults (`"commands": {"verify": {"disk-budget": "4GB"}}`) to parsed
 * flags: a key is a flag's name, its value what would follow the flag on the command line (a boolean for a switch,
 * a list for a repeatable flag). A flag given on the command line or by its `BUCKETWRIGHT_*` variable wins; the
 * file wins over the flag's default. Each value goes through the flag's own parser, so it means what it means on
 * the command line; a key that is no flag of the command, or a value the flag rejects, is a usage error naming
 * the file and the key.
 */
export async function applyCommandDefaults(parsed: Pick<Interfaces.ParserOutput, 'flags' | 'metadata'>, flags: Interfaces.FlagInput, id: string, config: BucketwrightConfig, file: string): Promise<void> {
  const key = commandKey(id)
  const entry = config.commands?.[key] ?? (key === id ? undefined : config.commands?.[id])
  if (entry === undefined) return
  const where = (name?: string) => `commands["${key}"]${name === undefined ? '' : `["${name}"]`} in ${file}`
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new UsageError(`${where()} is not an object of flag names and values.`, {
      code: 'BAD_CONFIG_VALUE',
      nextSteps: [`Write it as {"flag-name": value, …}, or remove it from ${file}.`],
      details: {file, command: key},
    })
  }
  for (const [name, value] of Object.entries(entry)) {
    const flag = flags[name]
    if (!flag || NOT_FROM_CONFIG.has(name)) {
      const known = Object.keys(flags)
        .filter((candidate) => !NOT_FROM_CONFIG.has(candidate))
        .sort()
      throw new UsageError(`${where(name)}: ${key} has no flag --${name}.`, {
        code: 'BAD_CONFIG_KEY',
        nextSteps: [`Remove or rename "${name}" in ${file} (flags of ${key}: ${known.join(', ')}).`],
        details: {file, command: key, key: name},
      })
    }
    const given = parsed.flags[name] !== undefined && !parsed.metadata.flags[name]?.setFromDefault
    if (given) continue
    parsed.flags[name] = await parseValue(name, flag, value).catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error)
      throw new UsageError(`${where(name)}: ${JSON.stringify(value)} is not a value of --${name}: ${message.replace(/^Parsing --[\w-]+ \n\t/, '').trim()}`, {
        code: 'BAD_CONFIG_VALUE',
        nextSteps: [`Fix or remove "${name}" in ${file} (\`--help\` shows what --${name} takes).`],
        details: {file, command: key, key: name},
      })
    })
    if (parsed.metadata.flags[name]) parsed.metadata.flags[name].setFromDefault = false
  }
}

/** A config value through its flag's parser, as the command-line tokens it stands for. */
async function parseValue(name: string, flag: Interfaces.FlagInput[string], value: unknown): Promise<unknown> {
  if (flag.type === 'boolean') {
    if (typeof value !== 'boolean') throw new Error('expected true or false')
    return value
  }
  const values = Array.isArray(value) ? value : [value]
  if (Array.isArray(value) && !flag.multiple) throw new Error('expected one value, not a list')
  const tokens: string[] = []
  for (const item of values) {
    if (typeof item !== 'string' && typeof item !== 'number') throw new Error('expected a string or a number')
    tokens.push(`--${name}=${item}`)
  }
  // The flag alone: its relations to other flags (exclusive, dependsOn) are the command line's to check.
  const alone = {...flag, required: false, exclusive: undefined, dependsOn: undefined, exactlyOne: undefined, relationships: undefined, env: undefined, default: undefined}
  const output = await Parser.parse(tokens, {flags: {[name]: alone} as Interfaces.FlagInput, args: {}, strict: true})
  return output.flags[name]
}
