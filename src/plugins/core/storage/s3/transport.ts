import type {S3Client} from '@aws-sdk/client-s3'
import {createHash} from 'node:crypto'

import {objectOptionFields, objectOptionHeaders} from '../object-options.js'
import type {ObjectOptions} from '../types.js'
import {cleanEtag} from './etag.js'
import {type FastHead, type FastListPage, type FastPut, type FastS3, objectHeaders} from './fast-s3.js'

/** Content-Type, Content-Encoding and user metadata of an object being written. */
export interface ObjectAttributes {
  contentType?: string
  contentEncoding?: string
  metadata?: Record<string, string>
  /** The body's CRC32 (base64, big-endian), for the store to check and keep (a single PUT only). */
  crc32?: string
  /** The body's SHA-256 (base64) when already known; a single PUT under SSE-KMS sends it (see {@link putChecksum}). */
  sha256?: string
}

/**
 * The checksum a single PUT asks the store to check and keep. Under SSE-KMS the ETag is no MD5, so the write is
 * verified, and later "same content" decided, by a full-object SHA-256 the store keeps (`x-amz-checksum-sha256`,
 * read back by a HEAD in checksum mode); S3 takes one checksum a request, so the CRC32 then stays at home.
 * Otherwise the CRC32 when the caller has one (transport integrity only: a CRC never decides sameness).
 */
export function putChecksum(body: Buffer, attributes: ObjectAttributes, objects: ObjectOptions | undefined): {crc32?: string; sha256?: string} {
  if (objects?.sse === 'aws:kms') return {sha256: attributes.sha256 ?? createHash('sha256').update(body).digest('base64')}
  return {crc32: attributes.crc32}
}

/** User metadata of a write: the writer's own, with the run's `--metadata` added (the writer's keys win). */
function metadataOf(attributes: ObjectAttributes, objects: ObjectOptions | undefined): Record<string, string> | undefined {
  return objects?.metadata ? {...objects.metadata, ...attributes.metadata} : attributes.metadata
}

/**
 * The S3 requests the storage makes, one method each, in the same shapes on both transports: the lean one
 * (fast-s3.ts: no retries, any failure is an error for the fallback policy to redo) and the SDK's (retries with
 * backoff, redirects, its errors for s3-errors.ts to translate). See requests.ts for the policy between them.
 */
export interface S3Transport {
  listPage(bucket: string, options: {prefix: string; startAfter?: string; token?: string; maxKeys?: number; signal?: AbortSignal}): Promise<FastListPage>
  /** `undefined` when there is no such key. */
  head(bucket: string, key: string, options: {checksum?: boolean; signal?: AbortSignal}): Promise<FastHead | undefined>
  /** A whole object into one buffer. */
  get(bucket: string, key: string, signal?: AbortSignal): Promise<Buffer>
  put(bucket: string, key: string, body: Buffer, md5Base64: string, attributes: ObjectAttributes, signal?: AbortSignal): Promise<FastPut>
  createMultipart(bucket: string, key: string, attributes: ObjectAttributes, signal?: AbortSignal): Promise<string>
  uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer, md5Base64: string, signal?: AbortSignal): Promise<FastPut>
  completeMultipart(bucket: string, key: string, uploadId: string, etags: string[], signal?: AbortSignal): Promise<FastPut>
  abortMultipart(bucket: string, key: string, uploadId: string): Promise<void>
}

/** The lean transport: {@link FastS3}'s keep-alive sockets and small signer. */
export class LeanTransport implements S3Transport {
  constructor(
    readonly fast: FastS3,
    /** The run's object options, sent with every PUT and multipart create. */
    private readonly objects?: ObjectOptions,
  ) {}

  private headers(attributes: ObjectAttributes): Record<string, string> {
    return {...objectHeaders({...attributes, metadata: metadataOf(attributes, this.objects)}), ...objectOptionHeaders(this.objects)}
  }

  listPage(bucket: string, options: Parameters<S3Transport['listPage']>[1]): Promise<FastListPage> {
    return this.fast.listPage(bucket, options)
  }

  head(bucket: string, key: string, options: {checksum?: boolean; signal?: AbortSignal}): Promise<FastHead | undefined> {
    return this.fast.head(bucket, key, options)
  }

  get(bucket: string, key: string, signal?: AbortSignal): Promise<Buffer> {
    return this.fast.get(bucket, key, signal)
  }

  put(bucket: string, key: string, body: Buffer, md5Base64: string, attributes: ObjectAttributes, signal?: AbortSignal): Promise<FastPut> {
    const {crc32, sha256} = putChecksum(body, attributes, this.objects)
    const headers = this.headers(attributes)
    if (sha256) headers['x-amz-checksum-sha256'] = sha256
    return this.fast.put(bucket, key, body, md5Base64, crc32, headers, signal)
  }

  createMultipart(bucket: string, key: string, attributes: ObjectAttributes, signal?: AbortSignal): Promise<string> {
    return this.fast.createMultipart(bucket, key, this.headers(attributes), signal)
  }

  uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer, md5Base64: string, signal?: AbortSignal): Promise<FastPut> {
    return this.fast.uploadPart(bucket, key, uploadId, partNumber, body, md5Base64, signal)
  }

  completeMultipart(bucket: string, key: string, uploadId: string, etags: string[], signal?: AbortSignal): Promise<FastPut> {
    return this.fast.completeMultipart(bucket, key, uploadId, etags, signal)
  }

  abortMultipart(bucket: string, key: string, uploadId: string): Promise<void> {
    return this.fast.abortMultipart(bucket, key, uploadId)
  }

  close(): void {
    this.fast.close()
  }
}

const sdk = () => import('@aws-sdk/client-s3')

/** The SDK transport: the AWS SDK's client (made, and the SDK loaded, on first use). */
export class SdkTransport implements S3Transport {
  constructor(
    private readonly client: () => Promise<S3Client>,
    /** The run's object options, sent with every PUT and multipart create. */
    private readonly objects?: ObjectOptions,
  ) {}

  private both(): Promise<[typeof import('@aws-sdk/client-s3'), S3Client]> {
    return Promise.all([sdk(), this.client()])
  }

  async listPage(bucket: string, options: Parameters<S3Transport['listPage']>[1]): Promise<FastListPage> {
    const [{ListObjectsV2Command}, client] = await this.both()
    const page = await client.send(
      new ListObjectsV2Command({Bucket: bucket, Prefix: options.prefix, ContinuationToken: options.token, StartAfter: options.token ? undefined : options.startAfter, MaxKeys: options.maxKeys}),
      {abortSignal: options.signal},
    )
    return {
      objects: (page.Contents ?? []).filter((item) => item.Key).map((item) => ({key: item.Key!, size: item.Size ?? 0, lastModified: item.LastModified ?? new Date(0), etag: cleanEtag(item.ETag)})),
      nextToken: page.IsTruncated ? page.NextContinuationToken : undefined,
    }
  }

  async head(bucket: string, key: string, options: {checksum?: boolean; signal?: AbortSignal}): Promise<FastHead | undefined> {
    const [{HeadObjectCommand}, client] = await this.both()
    try {
      const out = await client.send(new HeadObjectCommand({Bucket: bucket, Key: key, ChecksumMode: options.checksum ? 'ENABLED' : undefined}), {abortSignal: options.signal})
      const checksums = {crc32: out.ChecksumCRC32, crc32c: out.ChecksumCRC32C, crc64nvme: out.ChecksumCRC64NVME, sha1: out.ChecksumSHA1, sha256: out.ChecksumSHA256}
      return {
        size: out.ContentLength ?? 0,
        etag: cleanEtag(out.ETag),
        lastModified: out.LastModified,
        checksums: Object.fromEntries(Object.entries(checksums).filter((entry): entry is [string, string] => Boolean(entry[1]))),
        checksumType: out.ChecksumType,
        serverSideEncryption: out.ServerSideEncryption,
        metadata: out.Metadata ?? {},
      }
    } catch (error) {
      // HEAD has no body, so no error code: a 404 is "no such key" unless the SDK could tell the bucket is missing.
      const status = (error as {$metadata?: {httpStatusCode?: number}}).$metadata?.httpStatusCode
      if ((error as Error).name === 'NotFound' || (error as Error).name === 'NoSuchKey' || (status === 404 && (error as Error).name !== 'NoSuchBucket')) return undefined
      throw error
    }
  }

  async get(bucket: string, key: string, signal?: AbortSignal): Promise<Buffer> {
    const [{GetObjectCommand}, client] = await this.both()
    const out = await client.send(new GetObjectCommand({Bucket: bucket, Key: key}), {abortSignal: signal})
    const chunks: Buffer[] = []
    for await (const chunk of out.Body as AsyncIterable<Buffer>) chunks.push(chunk)
    return Buffer.concat(chunks)
  }

  async put(bucket: string, key: string, body: Buffer, md5Base64: string, attributes: ObjectAttributes, signal?: AbortSignal): Promise<FastPut> {
    const [{PutObjectCommand}, client] = await this.both()
    const {crc32, sha256} = putChecksum(body, attributes, this.objects)
    const out = await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        ContentMD5: md5Base64,
        ChecksumCRC32: crc32,
        ChecksumSHA256: sha256,
        ContentType: attributes.contentType,
        ContentEncoding: attributes.contentEncoding,
        Metadata: metadataOf(attributes, this.objects),
        ...objectOptionFields(this.objects),
      }),
      {abortSignal: signal},
    )
    return {etag: cleanEtag(out.ETag), serverSideEncryption: out.ServerSideEncryption}
  }

  async createMultipart(bucket: string, key: string, attributes: ObjectAttributes, signal?: AbortSignal): Promise<string> {
    const [{CreateMultipartUploadCommand}, client] = await this.both()
    const out = await client.send(
      new CreateMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        ContentType: attributes.contentType,
        ContentEncoding: attributes.contentEncoding,
        Metadata: metadataOf(attributes, this.objects),
        ...objectOptionFields(this.objects),
      }),
      {abortSignal: signal},
    )
    return out.UploadId ?? ''
  }

  async uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Buffer, md5Base64: string, signal?: AbortSignal): Promise<FastPut> {
    const [{UploadPartCommand}, client] = await this.both()
    const out = await client.send(new UploadPartCommand({Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body, ContentMD5: md5Base64}), {abortSignal: signal})
    return {etag: cleanEtag(out.ETag), serverSideEncryption: out.ServerSideEncryption}
  }

  async completeMultipart(bucket: string, key: string, uploadId: string, etags: string[], signal?: AbortSignal): Promise<FastPut> {
    const [{CompleteMultipartUploadCommand}, client] = await this.both()
    const out = await client.send(new CompleteMultipartUploadCommand({Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: {Parts: etags.map((etag, index) => ({ETag: `"${etag}"`, PartNumber: index + 1}))}}), {
      abortSignal: signal,
    })
    return {etag: cleanEtag(out.ETag), serverSideEncryption: out.ServerSideEncryption}
  }

  async abortMultipart(bucket: string, key: string, uploadId: string): Promise<void> {
    const [{AbortMultipartUploadCommand}, client] = await this.both()
    await client.send(new AbortMultipartUploadCommand({Bucket: bucket, Key: key, UploadId: uploadId}))
  }
}
