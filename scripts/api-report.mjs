// The public API's report: `npm run lint:api` fails when what `bucketwright/core` or `bucketwright/sources` exports
// differs from etc/bucketwright-{core,sources}.api.md; `npm run api:update` rewrites them (commit the change with the
// code, so a change to the public API is visible in review). API Extractor reads declarations: tsc emits them first.
import {Extractor, ExtractorConfig} from '@microsoft/api-extractor'
import {execFileSync} from 'node:child_process'
import {rmSync} from 'node:fs'

const update = process.argv.includes('--update')
const dts = '.scratch/api/dts'
rmSync(dts, {recursive: true, force: true})
// The compiler is TypeScript 7 (`@typescript/native`), as in the build.
execFileSync(process.execPath, ['node_modules/@typescript/native/bin/tsc', '-p', '.', '--emitDeclarationOnly', '--declarationMap', 'false', '--sourceMap', 'false', '--outDir', dts], {stdio: 'inherit'})

let failed = false
// The declarations are removed afterwards: ESLint, which runs on the tree, is not for them.
try {
  for (const entry of ['core', 'sources']) {
    const config = ExtractorConfig.loadFileAndPrepare(`etc/api-extractor.${entry}.json`)
    const result = Extractor.invoke(config, {localBuild: update, showVerboseMessages: false})
    if (!result.succeeded || (!update && result.apiReportChanged)) {
      failed = true
      console.error(
        result.apiReportChanged
          ? `bucketwright/${entry}'s public API differs from etc/bucketwright-${entry}.api.md (see .scratch/api/bucketwright-${entry}.api.md). If the change is meant, run \`npm run api:update\` and commit the report.`
          : `API Extractor failed on bucketwright/${entry} (${result.errorCount} errors).`,
      )
    } else if (update && result.apiReportChanged) {
      console.error(`updated etc/bucketwright-${entry}.api.md`)
    }
  }
} finally {
  rmSync(dts, {recursive: true, force: true})
}
if (failed) process.exitCode = 1
