import type {Reporter, TestCase, TestModule} from 'vitest/node'

/**
 * Lists every skipped test by its full name at the end of the run (the default reporter only counts them): a test
 * that needs something this machine lacks says so in its name (`… — SKIPPED: not present: …`), and that must show.
 */
export default class SkippedReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const skipped: string[] = []
    for (const testModule of testModules) {
      for (const test of testModule.children.allTests('skipped') as Iterable<TestCase>) {
        const result = test.result()
        const note = result.state === 'skipped' ? result.note : undefined
        skipped.push(`${testModule.moduleId.replace(`${process.cwd()}/`, '')} > ${test.fullName}${note ? ` (${note})` : ''}`)
      }
    }
    if (skipped.length > 0) process.stderr.write(`\nSkipped tests (${skipped.length}):\n${skipped.map((name) => `  ↓ ${name}`).join('\n')}\n`)
  }
}
