/**
 * Characters a terminal acts on instead of showing: C0 controls (ESC starts colour and cursor sequences, CR rewrites
 * the line, BEL rings), DEL, C1 controls (U+009B is a one-byte CSI on some terminals), the Unicode line and
 * paragraph separators, and the bidirectional overrides and isolates that reorder what is shown.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g
const CONTROL_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

const NAMED: Record<string, string> = {'\n': '\\n', '\r': '\\r', '\t': '\\t'}

function escapeOne(char: string): string {
  const named = NAMED[char]
  if (named) return named
  const code = char.charCodeAt(0)
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
}

/**
 * A value as text that is safe to print on a terminal: every control character (see above) is shown as an escape
 * (`\x1b`, `\r`, `\n`, `\x07`, `\u202e`), so an S3 key, a file name or a record value can neither colour, move,
 * rewrite nor fake a line of the output. Backslashes are left as they are: text output is for reading, and `--json`
 * carries every value exactly. With `keepNewlines`, line breaks stay (for whole multi-line outputs whose values
 * were made printable one by one).
 *
 * Every text formatter passes the keys and values it prints through this function.
 */
export function printable(value: unknown, options: {keepNewlines?: boolean} = {}): string {
  const text = typeof value === 'string' ? value : String(value)
  return text.replace(options.keepNewlines ? CONTROL_BUT_NEWLINE : CONTROL, escapeOne)
}

/**
 * `text` cut to at most `max` characters (an ellipsis marks the cut; a surrogate pair is never split), so one huge
 * value cannot fill a screen.
 */
export function shortened(text: string, max: number): string {
  if (text.length <= max) return text
  let end = max - 1
  const code = text.charCodeAt(end - 1)
  if (code >= 0xd800 && code <= 0xdbff) end--
  return `${text.slice(0, end)}…`
}
