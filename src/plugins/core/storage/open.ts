import {LocalStorage} from './local.js'
import {parseLocation} from './location.js'
import type {S3ConnectionOptions} from './s3-client.js'
import type {S3StorageOptions} from './s3.js'
import type {Storage} from './types.js'

/** Options of {@link openStorage}: how to reach S3 (ignored for local paths) and multipart tuning. */
export interface OpenStorageOptions extends S3ConnectionOptions, Pick<S3StorageOptions, 'partSize' | 'queueSize'> {}

/**
 * Opens the storage a location names: `s3://bucket/prefix/` → S3, anything else → local disk.
 * S3 modules are loaded only when an S3 location is opened.
 */
export async function openStorage(location: string, options: OpenStorageOptions = {}): Promise<Storage> {
  const parsed = parseLocation(location)
  if (parsed.kind === 'local') return new LocalStorage(parsed.root)
  const [{S3Connection}, {S3Storage}] = await Promise.all([import('./s3-client.js'), import('./s3.js')])
  return new S3Storage(new S3Connection(options), parsed.bucket, parsed.prefix, {
    partSize: options.partSize,
    queueSize: options.queueSize,
    endpoint: options.endpoint,
    region: options.region,
    profile: options.profile,
  })
}
