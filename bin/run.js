#!/usr/bin/env node
// bucketwright needs Node >= 22. When started by an older Node (the system's), re-run on the Node that
// `npm install` put in node_modules (the `node` npm package), so `./bin/run.js` works on either.
import {spawnSync} from 'node:child_process'
import {createRequire} from 'node:module'

if (Number(process.versions.node.split('.')[0]) < 22 && !process.env.BUCKETWRIGHT_REEXEC) {
  let bundled
  try {
    bundled = createRequire(import.meta.url).resolve('node/bin/node')
  } catch {
    console.error(`bucketwright needs Node.js 22 or later (this is ${process.version}); run \`npm install\` in the project, or install Node 22+.`)
    process.exit(1)
  }
  const child = spawnSync(bundled, [new URL(import.meta.url).pathname, ...process.argv.slice(2)], {stdio: 'inherit', env: {...process.env, BUCKETWRIGHT_REEXEC: '1'}})
  process.exit(child.status ?? 1)
}

// V8's compile cache on disk (Node >= 22.1): later runs skip compiling oclif, the AWS SDK and our modules, a good
// part of a command's start-up. It lives in the user's cache folder (not the temp folder, which jobs may watch or
// wipe); NODE_COMPILE_CACHE chooses another folder, NODE_DISABLE_COMPILE_CACHE=1 turns it off. Worker threads (convert's
// encoders) take it from the environment, not from enableCompileCache, so it goes there too.
const [{enableCompileCache}, os, path] = await Promise.all([import('node:module'), import('node:os'), import('node:path')])
try {
  const cache = process.env.NODE_COMPILE_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'bucketwright', 'compile-cache')
  if (path.isAbsolute(cache)) {
    enableCompileCache?.(cache)
    process.env.NODE_COMPILE_CACHE = cache
  }
} catch {
  // A cache that cannot be written only costs start-up time.
}

// convert's encoder threads boot (~150 ms each) while oclif loads, instead of after: the command takes them over.
// Not for help or a dry run (which encodes nothing), nor with --workers (the command starts its own number).
const argv = process.argv.slice(2)
if (argv[0] === 'convert' && !argv.some((arg) => ['--help', '-h', '--dry-run', '--workers'].includes(arg.split('=')[0]))) {
  try {
    const {prestartEncoders} = await import('../dist/plugins/core/convert/encoder-threads.js')
    prestartEncoders()
  } catch {
    // The command starts its threads itself.
  }
}

const {execute} = await import('@oclif/core')
await execute({dir: import.meta.url})
