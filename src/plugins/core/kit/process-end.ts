/**
 * Whether this process ends as soon as its command returns: the CLI (bin/run.js) says so before it runs a command,
 * and exits once oclif is done. Then memory held by native libraries need not be given back piece by piece before
 * the end — DuckDB's close frees its buffers one block at a time, 0.3–1 s of kernel time after a large merge, where
 * the exit frees everything at once. Code in any other process (tests, a program using bucketwright/core) frees as usual.
 */
let endsWithCommand = false

/** Called by the CLI entry point: this process exits when its command returns. */
export function processEndsWithCommand(): void {
  endsWithCommand = true
}

/** See {@link processEndsWithCommand}. */
export function willEndWithCommand(): boolean {
  return endsWithCommand
}
