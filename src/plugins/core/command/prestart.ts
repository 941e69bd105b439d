/**
 * Work a command starts before the CLI framework loads, so it overlaps oclif's own start-up (~150 ms+). bin/run.js
 * knows nothing of any command: it hands the command line to {@link prestart}, which finds the command's entry here
 * by its id and lets the command's own module decide from its flags whether to start anything. Keep this module and
 * what it imports small: every command pays for loading it.
 */
type Prestart = (argv: readonly string[]) => void

/** Command id → its prestart, loaded only when that command runs. */
const PRESTARTS: Record<string, () => Promise<Prestart>> = {
  convert: async () => (await import('../convert/encoder-threads.js')).prestartForConvert,
}

/** Runs the prestart of the command `argv` names, if it has one; a failure only means the command starts it later. */
export async function prestart(argv: readonly string[]): Promise<void> {
  const load = Object.hasOwn(PRESTARTS, argv[0] ?? '') ? PRESTARTS[argv[0]!] : undefined
  if (!load) return
  try {
    ;(await load())(argv.slice(1))
  } catch {
    // The command starts its own.
  }
}
