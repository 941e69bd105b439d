// Build: compile TypeScript to dist/ and regenerate oclif.manifest.json from the compiled commands.
import {execFileSync} from 'node:child_process'
import {rmSync} from 'node:fs'

const run = (cmd, args) => execFileSync(cmd, args, {stdio: 'inherit', shell: false})
rmSync('dist', {recursive: true, force: true})
// `typescript` is TypeScript 6 (the compiler API ESLint and dependency-cruiser need); the compiler is TypeScript 7.
run(process.execPath, ['node_modules/@typescript/native/bin/tsc', '-p', '.'])
run(process.execPath, ['node_modules/oclif/bin/run.js', 'manifest'])
