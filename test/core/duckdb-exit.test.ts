import {describe, expect, it} from 'vitest'

import {openDuckDB} from '../../src/plugins/core/duckdb/duckdb.js'
import {processEndsWithCommand} from '../../src/plugins/core/kit/process-end.js'

// The CLI's process ends with its command, so a closed DuckDB's memory is left to the exit (bin/run.js). Within the
// run the memory bound must still hold: an instance left to the exit is freed by the next open, so no more instances
// hold memory at once than if each close had freed its own. (Vitest runs each file in its own worker: the flag set
// here stays here.)
describe('DuckDB left to the process exit', () => {
  it('a closed instance stays until the next open frees it; its connection is closed at once', async () => {
    processEndsWithCommand()
    const first = await openDuckDB({memoryLimit: '64MB', threads: 1})
    await first.run('CREATE TABLE t AS SELECT range AS i FROM range(1000)')
    await first.close()
    // Its connection is closed; the instance itself still answers (nothing freed it yet).
    await expect(first.query('SELECT 1')).rejects.toThrow()
    const stillOpen = await first.instance.connect()
    stillOpen.closeSync()

    const second = await openDuckDB({memoryLimit: '64MB', threads: 1})
    // Opening the next one freed the first: it takes no connection any more.
    await expect(first.instance.connect()).rejects.toThrow()
    expect(await second.query<{n: number}>('SELECT 42 AS n')).toEqual([{n: 42}])
    await second.close()
  })
})
