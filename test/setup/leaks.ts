import fs from 'node:fs/promises'
import path from 'node:path'

/** A process that outlived the tests, as /proc shows it. */
export interface LeakedProcess {
  pid: number
  ppid: number
  command: string
}

interface ProcessInfo {
  pid: number
  ppid: number
  command: string
  environ: string
}

async function readProcess(pid: number): Promise<ProcessInfo | undefined> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8')
    // The command name in parentheses may hold spaces and parentheses: the fields after it start at the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    const command = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\0', ' ').trim()
    const environ = await fs.readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '')
    return {pid, ppid, command, environ}
  } catch {
    return undefined // gone meanwhile, or not ours to read
  }
}

/**
 * Processes the test run left behind: descendants of this process, and orphans that carry the run's marker in their
 * environment or name the run's temp folder on their command line (a server a test started, whose test process is
 * gone, is a child of init by now). Vitest's own pool workers are not leaks. Empty where there is no /proc.
 */
export async function leakedProcesses(marker: {name: string; value: string}, runTemp: string): Promise<LeakedProcess[]> {
  let pids: number[]
  try {
    pids = (await fs.readdir('/proc')).filter((entry) => /^\d+$/.test(entry)).map(Number)
  } catch {
    return []
  }
  const all = (await Promise.all(pids.map(readProcess))).filter((info): info is ProcessInfo => info !== undefined)
  const children = new Map<number, number[]>()
  for (const info of all) children.set(info.ppid, [...(children.get(info.ppid) ?? []), info.pid])
  const descendants = new Set<number>()
  const queue = [process.pid]
  while (queue.length > 0) {
    for (const child of children.get(queue.pop()!) ?? []) {
      if (!descendants.has(child)) {
        descendants.add(child)
        queue.push(child)
      }
    }
  }
  const tagged = `${marker.name}=${marker.value}\0`
  // Vitest's own children (pool workers, its watchdog): a path under vitest/ or a process title starting with vitest.
  const vitestWorker = (info: ProcessInfo) => info.ppid === process.pid && (info.command.includes(`${path.sep}vitest${path.sep}`) || info.command.startsWith('vitest'))
  return all
    .filter((info) => info.pid !== process.pid && (descendants.has(info.pid) || info.environ.includes(tagged) || info.command.includes(runTemp)))
    .filter((info) => !vitestWorker(info))
    .map(({pid, ppid, command}) => ({pid, ppid, command: command.length > 300 ? `${command.slice(0, 300)}…` : command}))
}

/** Entries a test left in the run's temp folder, as paths (folders with a trailing slash). */
export async function leftoverPaths(runTemp: string): Promise<string[]> {
  const entries = await fs.readdir(runTemp, {withFileTypes: true}).catch(() => [])
  return entries.map((entry) => path.join(runTemp, entry.name) + (entry.isDirectory() ? path.sep : '')).sort()
}
