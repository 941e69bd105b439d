import {execFile} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {promisify} from 'node:util'

const run = promisify(execFile)

/**
 * A real terminal for prompt tests: a detached tmux session on its own server socket (so it never touches other
 * sessions), driven with send-keys and read with capture-pane.
 */
export class TmuxTerminal {
  readonly socket = `bw-test-${randomBytes(4).toString('hex')}`
  private readonly session = 'wizard'

  private tmux(...args: string[]) {
    return run('tmux', ['-L', this.socket, ...args])
  }

  /** Starts `command` (a shell command line) in a 160×50 terminal. */
  async start(command: string): Promise<void> {
    await this.tmux('new-session', '-d', '-s', this.session, '-x', '160', '-y', '50', command)
    await this.tmux('set-option', '-t', this.session, 'remain-on-exit', 'on')
  }

  /** The screen and scrollback, as text. */
  async screen(): Promise<string> {
    const {stdout} = await this.tmux('capture-pane', '-p', '-J', '-S', '-500', '-t', this.session)
    return stdout
  }

  /** Waits until the screen shows `pattern` at least `times` times; fails with the screen when it does not. */
  async waitFor(pattern: RegExp, times = 1, timeoutMs = 20_000): Promise<string> {
    const global = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : pattern.flags + 'g')
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const text = await this.screen()
      if ((text.match(global)?.length ?? 0) >= times) return text
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${pattern} ×${times}. Screen:\n${text}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  /** Types text literally. */
  async type(text: string): Promise<void> {
    await this.tmux('send-keys', '-t', this.session, '-l', text)
  }

  /** Presses named keys (Enter, Down, Space…). */
  async press(...keys: string[]): Promise<void> {
    for (const key of keys) await this.tmux('send-keys', '-t', this.session, key)
  }

  async stop(): Promise<void> {
    await this.tmux('kill-server').catch(() => {})
  }
}
