import fs from 'node:fs/promises'

import {type DuckDB, sqlString} from '../duckdb/duckdb.js'

/**
 * Test-only fault hooks (compact's, and convert's `convert-after-output`: its output written, its manifest not), so that the crash-safety promises are tested on the real binary:
 * `BUCKETWRIGHT_TEST_CRASH_AT=<point>` kills the process with SIGKILL at that point (no cleanup, no `finally`),
 * exactly like a power cut or an OOM kill; `BUCKETWRIGHT_TEST_CORRUPT=drop-row` removes one row from the first
 * merged file before it is verified.
 */
export type CrashPoint = 'after-merge' | 'after-verify' | 'after-commit' | 'after-upload' | 'after-verified' | 'mid-delete' | 'before-done' | 'convert-after-output'

/** Kills the process here when the test hook names this point. */
export function crashPoint(point: CrashPoint): void {
  if (process.env.BUCKETWRIGHT_TEST_CRASH_AT === point) process.kill(process.pid, 'SIGKILL')
}

/** Corrupts a merged file when the test hook asks for it (to prove verification catches it). */
export async function corruptMergedFile(db: DuckDB, file: string): Promise<void> {
  if (process.env.BUCKETWRIGHT_TEST_CORRUPT !== 'drop-row') return
  const damaged = `${file}.damaged`
  await db.run(`COPY (SELECT * FROM read_parquet(${sqlString(file)}) OFFSET 1) TO ${sqlString(damaged)} (FORMAT parquet, COMPRESSION zstd)`)
  await fs.rename(damaged, file)
}
