#!/usr/bin/env node
// bucketwright needs Node >= 22. When started by an older Node (the system's), re-run on the Node that
// `npm install` put in node_modules (the `node` npm package), so `./bin/run.js` works on either.
import {spawn} from 'node:child_process'
import {mkdirSync, statSync} from 'node:fs'
import Module, {createRequire} from 'node:module'
import os from 'node:os'
import path from 'node:path'

if (Number(process.versions.node.split('.')[0]) < 22 && !process.env.BUCKETWRIGHT_REEXEC) {
  reexec()
} else {
  await main()
}

/**
 * Runs this script again on the bundled Node, as the process the user started stands for it: SIGTERM (systemd,
 * kill), SIGINT, SIGHUP and SIGQUIT are passed on, and this process ends as the child did (its exit code, or the same
 * signal). The child gets a process group of its own, so a terminal's Ctrl-C, which goes to the whole foreground
 * group, reaches it once (through here), not twice: a second SIGINT would cut a clean stop short.
 */
function reexec() {
  let bundled
  try {
    bundled = createRequire(import.meta.url).resolve('node/bin/node')
  } catch {
    console.error(`bucketwright needs Node.js 22 or later (this is ${process.version}); run \`npm install\` in the project, or install Node 22+.`)
    process.exit(1)
  }
  const ownGroup = process.platform !== 'win32'
  const child = spawn(bundled, [new URL(import.meta.url).pathname, ...process.argv.slice(2)], {stdio: 'inherit', detached: ownGroup, env: {...process.env, BUCKETWRIGHT_REEXEC: String(process.pid)}})
  const forward = (signal) => child.kill(signal)
  // SIGWINCH: the child's terminal size follows the terminal's, which tells only its foreground group.
  const forwarded = ownGroup ? ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGWINCH'] : ['SIGTERM', 'SIGINT', 'SIGHUP']
  for (const signal of forwarded) process.on(signal, forward)
  // Job control: Ctrl-Z stops this process; the child, outside the terminal's group, is stopped and continued with it.
  const suspend = () => {
    child.kill('SIGSTOP')
    process.off('SIGTSTP', suspend)
    process.kill(process.pid, 'SIGTSTP')
  }
  const resume = () => {
    process.off('SIGTSTP', suspend)
    process.on('SIGTSTP', suspend)
    child.kill('SIGCONT')
  }
  if (ownGroup) {
    process.on('SIGTSTP', suspend)
    process.on('SIGCONT', resume)
  }
  child.on('error', (error) => {
    console.error(`bucketwright could not start ${bundled}: ${error.message}`)
    process.exit(1)
  })
  child.on('exit', (code, signal) => {
    for (const name of [...forwarded, 'SIGTSTP', 'SIGCONT']) process.removeAllListeners(name)
    if (signal) {
      // Ended by a signal: end by the same one, so the shell or systemd sees what it would have seen.
      process.kill(process.pid, signal)
      setTimeout(() => process.exit(128 + (os.constants.signals[signal] ?? 0)), 1000)
      return
    }
    process.exit(code ?? 1)
  })
}

async function main() {
  // Re-run by the process the user started (see reexec): if that one is killed outright (SIGKILL), this one stops as
  // on SIGTERM, instead of running on unseen. Only the direct child watches: a daemon it starts inherits the variable.
  const starter = Number(process.env.BUCKETWRIGHT_REEXEC)
  if (starter > 1 && process.ppid === starter) {
    const watch = setInterval(() => {
      if (process.ppid === starter) return
      clearInterval(watch)
      process.kill(process.pid, 'SIGTERM')
    }, 1000).unref()
  }

  // V8's compile cache on disk (Node >= 22.1): later runs skip compiling oclif, the AWS SDK and our modules, a good
  // part of a command's start-up. It lives in the user's cache folder (not the temp folder, which jobs may watch or
  // wipe); NODE_COMPILE_CACHE chooses another folder, NODE_DISABLE_COMPILE_CACHE=1 turns it off. Worker threads
  // (convert's encoders) take it from the environment, not from enableCompileCache, so it goes there too.
  try {
    const cache = process.env.NODE_COMPILE_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'bucketwright', 'compile-cache')
    if (path.isAbsolute(cache) && Module.enableCompileCache && makeDirectory(cache)) {
      Module.enableCompileCache(cache)
      process.env.NODE_COMPILE_CACHE = cache
    }
  } catch {
    // A cache that cannot be written only costs start-up time.
  }

  // A command may start work (convert: its encoder threads, ~150 ms of boot each) while oclif loads, instead of after;
  // which command and when is the command's own business (src/plugins/core/command/prestart.ts).
  try {
    const {prestart} = await import('../dist/plugins/core/command/prestart.js')
    await prestart(process.argv.slice(2))
  } catch {
    // The command starts its work itself.
  }

  // Always the built dist/: oclif would otherwise load src/*.ts under NODE_ENV=development or test whenever the
  // `typescript` package can read tsconfig.json (slow, and a second copy of every module beside dist's).
  globalThis.oclif = {...globalThis.oclif, enableAutoTranspile: false}
  const {flush, handle, run} = await import('@oclif/core')
  // This process ends when its command returns: native memory (DuckDB's buffers) is left to the exit to free, at
  // once, instead of block by block before it (src/plugins/core/kit/process-end.ts). The process still ends the
  // natural way — every 'beforeExit' handler and late warning runs, the exit code is the command's —, but from the
  // 'exit' event it leaves at once, as process.exit does, instead of first running each native object's finalizer
  // (an open DuckDB's is its close: 0.3–1 s after a large merge).
  try {
    const {processEndsWithCommand} = await import('../dist/plugins/core/kit/process-end.js')
    processEndsWithCommand()
    process.once('exit', (code) => {
      Module.flushCompileCache?.()
      process.exit(code)
    })
  } catch {
    // Everything is freed the slow way.
  }
  try {
    await run(process.argv.slice(2), import.meta.url)
    await flush()
  } catch (thrown) {
    // oclif prints the error and ends the process; the exit code is core's exitCodeFor, the one map from any error
    // (ours, oclif's, a plugin command's) to the documented codes, as BaseCommand uses for a command's own errors.
    const error = thrown instanceof Error ? thrown : new Error(String(thrown))
    try {
      const {exitCodeFor} = await import('../dist/plugins/core/errors/normalise.js')
      error.oclif = {...error.oclif, exit: exitCodeFor(error)}
    } catch {
      // Without it (a broken install), oclif's own code stands.
    }
    await handle(error)
  }
}

/**
 * Makes the compile cache's folder, or says it cannot. Node's own recursive mkdir (which enableCompileCache uses)
 * never returns when a parent answers ENOENT for new entries (a cache under /proc, a dangling symbolic link): each
 * level is tried once here. (The same as the core plugin's makeDirectory, which cannot be loaded this early.)
 */
function makeDirectory(dir) {
  try {
    mkdirSync(dir)
    return true
  } catch (error) {
    if (error.code === 'EEXIST') return statSync(dir, {throwIfNoEntry: false})?.isDirectory() ?? false
    if (error.code !== 'ENOENT' || path.dirname(dir) === dir || !makeDirectory(path.dirname(dir))) return false
  }
  try {
    mkdirSync(dir)
    return true
  } catch (error) {
    return error.code === 'EEXIST' && (statSync(dir, {throwIfNoEntry: false})?.isDirectory() ?? false)
  }
}
