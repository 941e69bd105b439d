// Build: compile TypeScript to dist/ and regenerate oclif.manifest.json from the compiled commands.
import {execFileSync} from 'node:child_process'
import {rmSync} from 'node:fs'

const run = (cmd, args) => execFileSync(cmd, args, {stdio: 'inherit', shell: false})
rmSync('dist', {recursive: true, force: true})
run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.'])
run(process.execPath, ['node_modules/oclif/bin/run.js', 'manifest'])
