import {type Hook, toConfiguredId} from '@oclif/core'
import {distance} from 'fastest-levenshtein'

import {UsageError} from '../errors/errors.js'
import {outputFormatOf, reportError} from '../errors/report.js'

/** The command meant by a mistyped one: the nearest by edit distance, if it is near enough to be a typo. */
export function closestCommand(typed: string, commands: readonly string[]): string | undefined {
  let best: {id: string; distance: number} | undefined
  for (const id of commands) {
    const found = distance(typed, id)
    if (!best || found < best.distance) best = {id, distance: found}
  }
  return best && best.distance <= Math.max(2, Math.floor(typed.length / 3)) ? best.id : undefined
}

/**
 * oclif's `command_not_found` hook: an unknown command is a usage error (exit 2) with the nearest command as a next
 * step, printed as every other error is (text, `--json` document, or a JSON log line). Never runs another command in
 * its place: a guess must not start a job that writes or deletes. oclif also lands here for words after a command
 * that takes no arguments (`sources extra`): that is said as such.
 */
const hook: Hook.CommandNotFound = async function (options) {
  const {config} = options
  const visible = config.commands.filter((command) => !command.hidden).flatMap((command) => [command.id, ...command.aliases])
  // oclif joins every word before the first flag into the id ("convret ./in ./out"): the unknown command is the
  // longest run of words naming a command or topic, and the word after it.
  const words = options.id.split(':')
  const first = words.findIndex((_, index) => !config.findCommand(words.slice(0, index + 1).join(':')) && !config.findTopic(words.slice(0, index + 1).join(':')))
  const known = first === -1 ? words.length - 1 : first
  const unknown = words.slice(0, known + 1).join(':')
  const typed = toConfiguredId(unknown, config)
  const suggestion = closestCommand(unknown, visible)
  const given = known > 0 ? words.slice(0, known).join(':') : undefined
  const bin = config.bin
  let error: UsageError
  if (given && config.findCommand(given) && !suggestion) {
    const extra = words.slice(known)
    const command = toConfiguredId(given, config)
    error = new UsageError(`Unexpected argument${extra.length > 1 ? 's' : ''} for \`${bin} ${command}\`: ${extra.join(' ')}.`, {
      code: 'USAGE',
      nextSteps: [`Run \`${bin} ${command} --help\` to see its arguments and flags.`],
      details: {command, unexpected: extra},
    })
  } else {
    error = new UsageError(`"${typed}" is not a ${bin} command.`, {
      code: 'UNKNOWN_COMMAND',
      nextSteps: [...(suggestion ? [`Did you mean \`${bin} ${toConfiguredId(suggestion, config)}\`?`] : []), `Run \`${bin} help\` for the list of commands.`],
      details: {command: typed, ...(suggestion ? {suggestion: toConfiguredId(suggestion, config)} : {})},
    })
  }
  throw reportError(error, outputFormatOf(options.argv ?? []))
}

export default hook
