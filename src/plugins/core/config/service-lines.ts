import {UsageError} from '../errors/errors.js'

/** Arguments that need no quoting anywhere: letters, digits and path punctuation. */
const PLAIN = /^[\w@+=:,./-]+$/
const CONTROL = /[\u0000-\u001f\u007f]/

/**
 * One argument of a systemd `ExecStart=` (or, with `exec: false`, the value of an `Environment=`), written so that
 * systemd reads back exactly `value`: `%` is doubled (systemd would expand `%h`), `$` is doubled on command lines
 * (systemd would expand `$VAR`), and anything but plain characters goes in double quotes with C escapes, so a path
 * holding a quote, a backslash or a line break cannot end the argument or start a line of its own.
 */
export function systemdArgument(value: string, options: {exec?: boolean} = {}): string {
  let text = value.replaceAll('%', '%%')
  if (options.exec !== false) text = text.replaceAll('$', () => '$$')
  if (PLAIN.test(value)) return text
  const escaped = text.replace(/[\\"\u0000-\u001f\u007f]/g, (char) => (char === '\\' ? '\\\\' : char === '"' ? '\\"' : `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`))
  return `"${escaped}"`
}

/** Free text of a unit (`Description=`): one line, control characters shown as escapes, `%` doubled. */
export function systemdText(value: string): string {
  return value.replace(/[\u0000-\u001f\u007f]/g, (char) => `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`).replaceAll('%', '%%')
}

/**
 * One argument of a crontab command: single-quoted for the shell when needed, `%` escaped (cron turns a bare `%` into
 * a line break). A line break cannot be written on a crontab line at all, so such a value is refused.
 */
export function cronArgument(value: string): string {
  if (CONTROL.test(value)) {
    throw new UsageError(`${JSON.stringify(value)} holds a control character (a line break?), which a crontab line cannot carry.`, {
      code: 'UNSCHEDULABLE_PATH',
      nextSteps: ['Rename the folder or file without control characters, or use the systemd units instead.'],
      details: {value},
    })
  }
  const quoted = PLAIN.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`
  return quoted.replaceAll('%', '\\%')
}

/**
 * A path as a systemd setting that takes one path (`WorkingDirectory=`): systemd does not unquote it, so only `%`
 * is escaped; a control character (a line break would start a setting of its own) is refused.
 */
export function systemdPath(value: string): string {
  if (CONTROL.test(value)) {
    throw new UsageError(`${JSON.stringify(value)} holds a control character (a line break?), which a systemd unit cannot carry as a path.`, {
      code: 'UNSCHEDULABLE_PATH',
      nextSteps: ['Run from a folder whose path has no control characters.'],
      details: {value},
    })
  }
  return value.replaceAll('%', '%%')
}
