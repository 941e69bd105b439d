import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts', 'bench/**/*.test.ts'],
    globalSetup: ['test/setup/global.ts'],
    // Skipped tests by name at the end: one skipped for a missing sample or tool says what is missing.
    reporters: ['default', './test/setup/skipped-reporter.ts'],
    // Console output of passing tests is noise (in-process command runs print their JSON): shown only for failures.
    silent: 'passed-only',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Memory tests measure live memory: they collect garbage before each sample.
    execArgv: ['--expose-gc'],
    // Two cores: keep suites from starving each other's servers.
    maxWorkers: 2,
    fileParallelism: true,
  },
})
