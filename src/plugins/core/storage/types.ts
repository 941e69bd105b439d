import type {Readable} from 'node:stream'

import type {RequestStats} from './requests.js'
import type {StoreLocation} from './transfer.js'

/** A content checksum as S3 reports it (base64 for CRC/SHA, hex for MD5). */
export interface Checksum {
  algorithm: 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256' | 'MD5'
  value: string
  /** `COMPOSITE` checksums of multipart objects cover the parts' checksums, not the whole body. */
  type?: 'FULL_OBJECT' | 'COMPOSITE'
}

/** One stored object, with keys relative to the storage's root location. */
export interface ObjectInfo {
  key: string
  size: number
  lastModified: Date
  /** S3 ETag without quotes; on local disk a stable fingerprint of size and mtime. */
  etag?: string
  /** Present when the store reports one (S3 additional checksums with checksum mode, or a local digest). */
  checksums?: Checksum[]
  metadata?: Record<string, string>
}

/** Options of {@link Storage.list}. */
export interface ListOptions {
  /** Only keys strictly after this one (S3 `StartAfter`). */
  startAfter?: string
  /** Keys per request (S3 `MaxKeys`, at most 1,000), for callers that stop after a few; local listings ignore it. */
  pageSize?: number
  signal?: AbortSignal
}

/** Progress of a {@link Storage.listMany}: called as pages arrive. */
export interface ListProgress {
  prefixesDone: number
  prefixesTotal: number
  keysFound: number
}

/** Options of {@link Storage.listMany}. */
export interface ListManyOptions extends ListOptions {
  /** Listings in flight at once (default 32); prefixes are started at most twice that far ahead of the consumer. */
  concurrency?: number
  onProgress?: (progress: ListProgress) => void
}

/** Options of {@link Storage.write}. */
export interface WriteOptions {
  contentType?: string
  contentEncoding?: string
  /** User metadata (S3 `x-amz-meta-*`); ignored on local disk. */
  metadata?: Record<string, string>
  signal?: AbortSignal
  /** Called with the number of body bytes handed to the store so far. */
  onProgress?: (bytes: number) => void
}

/**
 * How S3 stores the objects a run writes (`--storage-class`, `--sse`, `--sse-kms-key-id`, `--acl`, `--metadata`):
 * sent with every write — single PUT, multipart create, copy — on both request paths. Local disk ignores them.
 * Parsed and checked by storage/object-options.ts.
 */
export interface ObjectOptions {
  /** `x-amz-storage-class`, e.g. `STANDARD_IA`. */
  storageClass?: string
  /** `x-amz-server-side-encryption`: `AES256` (SSE-S3) or `aws:kms` (SSE-KMS). */
  sse?: 'AES256' | 'aws:kms'
  /** `x-amz-server-side-encryption-aws-kms-key-id` (only with `aws:kms`; without it the account's default key). */
  sseKmsKeyId?: string
  /** Canned ACL (`x-amz-acl`), e.g. `bucket-owner-full-control` for a bucket of another account. */
  acl?: string
  /** User metadata (`x-amz-meta-<key>`), keys lowercase; added to any a writer sets itself. */
  metadata?: Record<string, string>
}

/** What a completed write stored; `md5` and `sha256` are of the bytes the caller passed in. */
export interface WriteResult {
  key: string
  size: number
  etag?: string
  /** Hex MD5 of the whole body. */
  md5: string
  /** Base64 SHA-256 of the whole body. */
  sha256: string
  /** Number of multipart parts (0 for a single PUT or a local file). */
  parts: number
}

/** Options of {@link Storage.read}. */
export interface ReadOptions {
  /** Inclusive byte range. */
  range?: {start: number; end?: number}
  signal?: AbortSignal
}

/** Result of {@link Storage.delete}: keys deleted and keys that failed, with the reason. */
export interface DeleteResult {
  deleted: string[]
  errors: {key: string; code: string; message: string}[]
}

/**
 * One interface over every store (local disk, S3, any backend registered in storage/schemes.ts). Keys are
 * `/`-separated and relative to the storage root; listings come in byte order of the key (as S3 lists), so every
 * consumer can rely on the same order everywhere. What a store can do beyond the interface it says by optional
 * capabilities (`localPath`, `atomicMove`, `stats`), never by its kind: a service asks for a capability, and a new
 * backend gets the right behaviour by having it or not.
 */
export interface Storage {
  /** The root location as a URI (`s3://bucket/prefix/` or `file:///abs/path/`). */
  readonly uri: string
  /**
   * Capability of a store reached by billed requests (S3): its requests so far, by operation (shared by every
   * storage of one connection). Absent where requests cost nothing (local disk): a run plans and prices requests
   * only on stores that have it.
   */
  readonly stats?: RequestStats
  /**
   * Capability of a store whose objects are files on this machine: the path of a key (of a folder for a prefix),
   * refusing keys that would escape the root. Readers use it in place instead of downloading (DuckDB, the spool);
   * the few writers that need a file's own operations (append, rename, folder cleanup) bypass decorators with it.
   */
  localPath?(key: string): string
  /**
   * Capability of a store reached over a network that bills transfer (S3): where its bytes live, for pricing a
   * run's traffic (storage/transfer.ts). Absent where moving bytes costs nothing (local disk, memory).
   */
  location?(): Promise<StoreLocation>
  /** Capability: {@link move} is one atomic step (a rename): of two racing moves of a key, exactly one succeeds. */
  readonly atomicMove?: boolean
  /** Lists every object whose key starts with `prefix`, in key order. */
  list(prefix?: string, options?: ListOptions): AsyncIterable<ObjectInfo>
  /**
   * The same listing a page at a time (S3: up to 1,000 keys a page): callers that gather keys skip a step per key.
   * Optional; `pagesOf` (list-many.ts) falls back to {@link list}.
   */
  listPages?(prefix?: string, options?: ListOptions): AsyncIterable<ObjectInfo[]>
  /** Lists many prefixes in parallel; results are yielded per prefix in the order of `prefixes`. */
  listMany(prefixes: string[], options?: ListManyOptions): AsyncIterable<ObjectInfo>
  /** Metadata of one object, or `undefined` when it does not exist. `checksum: true` asks for its checksums. */
  head(key: string, options?: {checksum?: boolean; signal?: AbortSignal}): Promise<ObjectInfo | undefined>
  /** A stream of the object's bytes; on S3 a broken connection resumes from the last byte received. */
  read(key: string, options?: ReadOptions): Promise<Readable>
  /** Reads a whole object into memory, in a buffer of its own; for small objects only (raw objects, manifests). */
  readBytes(key: string, options?: ReadOptions): Promise<Buffer>
  /**
   * Writes an object atomically: readers see the old object or the complete new one, never a part. On S3 bodies
   * above the multipart threshold go up as a multipart upload, aborted on failure; the stored ETag is checked
   * against the MD5 of what was sent.
   */
  write(key: string, body: Readable | AsyncIterable<Uint8Array> | Uint8Array | string, options?: WriteOptions): Promise<WriteResult>
  /** Deletes keys (S3: 1,000 a request); missing keys count as deleted. */
  delete(keys: Iterable<string> | AsyncIterable<string>, options?: {signal?: AbortSignal}): Promise<DeleteResult>
  /** Server-side copy (local: a file copy through a temp file). */
  copy(fromKey: string, toKey: string, options?: {signal?: AbortSignal}): Promise<void>
  /** Moves an object: local is an atomic rename; S3 is copy, verify, then delete — not atomic. */
  move(fromKey: string, toKey: string, options?: {signal?: AbortSignal}): Promise<void>
  /** A storage for a location under this one (`sub('v2/')`). */
  sub(prefix: string): Storage
  /** Releases sockets and handles. */
  close(): Promise<void>
}
