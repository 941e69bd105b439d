import {type DuckDB, openDuckDB, sqlList} from '../duckdb/duckdb.js'

/**
 * A DuckDB that reads the given files and nothing else, for the SQL of `verify` — users' `--check` queries
 * included, which may come from someone else's check file. Set before any query runs, then locked:
 * - `allowed_paths` + `enable_external_access = false`: no file, URL, database or directory but these files can be
 *   read, listed (`glob`) or written (`COPY … TO`, `ATTACH`, `EXPORT`); DuckDB checks every path a query names.
 * - no extension can be installed or loaded, explicitly or automatically (httpfs would reach the network);
 * - `lock_configuration`: no `SET`/`RESET`/`PRAGMA` can undo any of it.
 * Its own spill directory still works (DuckDB's temp files are not external access).
 *
 * Queries must still be run one SELECT at a time (see `SqlRunner.querySelect`): DuckDB lets a locked instance
 * write into an allowed path with `COPY`, and print profiles with `PRAGMA`.
 */
export async function openSandboxedDuckDB(readable: string[], options: {memoryLimit?: string; threads?: number} = {}): Promise<DuckDB> {
  const db = await openDuckDB(options)
  try {
    if (readable.length > 0) await db.run(`SET allowed_paths = ${sqlList(readable)}`)
    await db.run('SET autoinstall_known_extensions = false')
    await db.run('SET autoload_known_extensions = false')
    await db.run('SET enable_external_access = false')
    await db.run('SET lock_configuration = true')
  } catch (error) {
    await db.close()
    throw error
  }
  return db
}
