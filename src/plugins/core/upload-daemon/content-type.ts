import mime from 'mime'

/**
 * Types of data files the mime database does not know, as bucketwright's own writers label them (convert, etl,
 * ingest), so that a file the daemon ships and an output bucketwright writes carry the same type.
 */
const DATA_TYPES: Record<string, string> = {
  jsonl: 'application/x-ndjson',
  ndjson: 'application/x-ndjson',
  parquet: 'application/vnd.apache.parquet',
  zst: 'application/zstd',
}

/**
 * The Content-Type of a key from its last extension, as `aws s3 cp` sets it (`a.json` → application/json,
 * `a.csv` → text/csv); `application/octet-stream` when the extension is unknown or there is none. A compressed file
 * is typed by its compression (`a.json.gz` → application/gzip): those are its bytes, and a client that took it for
 * JSON would misread it.
 */
export function contentTypeFor(key: string): string {
  const name = key.slice(key.lastIndexOf('/') + 1)
  const dot = name.lastIndexOf('.')
  // A dotfile's name is no extension (".env" is not type "env").
  if (dot <= 0) return 'application/octet-stream'
  return DATA_TYPES[name.slice(dot + 1).toLowerCase()] ?? mime.getType(name) ?? 'application/octet-stream'
}
