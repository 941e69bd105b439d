import type {FileHandle} from 'node:fs/promises'

import {DigestBuilder, type LocalDigests, type RemoteObject, wantedDigests, type WantedDigests} from '../storage/s3/same-content.js'

const MIB = 1024 * 1024

/**
 * Reads an open file once and computes the digests `wanted`. Returns them and the bytes read (fewer than `size`:
 * the file shrank meanwhile).
 */
export async function digestFile(handle: FileHandle, size: number, wanted: WantedDigests): Promise<{digests: LocalDigests; bytesRead: number}> {
  const builder = new DigestBuilder(wanted)
  const buffer = Buffer.allocUnsafe(Math.min(Math.max(size, 1), 4 * MIB))
  let position = 0
  for (;;) {
    const {bytesRead} = await handle.read(buffer, 0, buffer.length, position)
    if (bytesRead === 0) break
    builder.update(buffer.subarray(0, bytesRead))
    position += bytesRead
  }
  return {digests: builder.digests(), bytesRead: position}
}

/**
 * Reads an open file once and computes what is needed to compare it with `remote`. Returns the digests and the
 * bytes read.
 */
export async function digestForComparison(handle: FileHandle, size: number, remote: RemoteObject, preferredPartSize: number): Promise<{digests: LocalDigests; bytesRead: number}> {
  return digestFile(handle, size, wantedDigests(remote, size, preferredPartSize))
}
