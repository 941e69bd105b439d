// `npm run demo`: the main job on the embedded default (local disk, no cloud, nothing but Node).
// 1. Generates a small, realistic bustimes archive with the bustimes source's own generator — six days across
//    the 2021-11-10 switch from Python-2 repr to JSON, two ISO weeks — under ./demo/raw.
// 2. Converts it to one gzip JSONL per ISO week under ./demo/v2 (with manifests), printing the summary.
// 3. Runs the conversion again: every week is skipped, because its manifest matches its inputs.
import {execFileSync} from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const raw = path.join(root, 'demo', 'raw')
const v2 = path.join(root, 'demo', 'v2')
const {generateBustimes} = await import(path.join(root, 'dist', 'plugins', 'bustimes', 'index.js'))

await fs.rm(path.join(root, 'demo'), {recursive: true, force: true})
const range = {from: new Date('2021-11-06T00:00:00Z'), to: new Date('2021-11-12T00:00:00Z')}
let objects = 0
let bytes = 0
for await (const object of generateBustimes({range, rate: 2, seed: 42})) {
  const file = path.join(raw, object.key)
  await fs.mkdir(path.dirname(file), {recursive: true})
  await fs.writeFile(file, object.body)
  objects++
  bytes += typeof object.body === 'string' ? Buffer.byteLength(object.body) : object.body.length
}
console.log(`Generated ${objects} raw objects (${(bytes / 1e6).toFixed(1)} MB) under demo/raw — Python-2 repr until 2021-11-10 07:15:05, JSON after.\n`)

const convert = (label) => {
  console.log(`$ bucketwright convert demo/raw demo/v2 --source bustimes   # ${label}`)
  execFileSync(process.execPath, [path.join(root, 'bin', 'run.js'), 'convert', raw, v2, '--source', 'bustimes'], {stdio: 'inherit', cwd: root})
  console.log('')
}
convert('first run: writes every week')
convert('second run: nothing changed, every week is skipped')
console.log(`Outputs: ${(await fs.readdir(v2)).filter((name) => !name.startsWith('_')).join(', ')} (manifests in demo/v2/_manifests/).`)
console.log(`
Next:
  ./bin/run.js verify demo/v2 --raw demo/raw --source bustimes     # prove nothing was lost (DuckDB), exit 3 if something was
  ./bin/run.js convert demo/raw demo/v2 --source bustimes --dry-run # the plan and its S3 request cost, nothing written
  ./bin/run.js --help                                              # every command`)
