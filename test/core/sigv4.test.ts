import {SignatureV4} from '@smithy/signature-v4'
import {createHash, createHmac} from 'node:crypto'
import {describe, expect, it} from 'vitest'

import {S3RequestSigner} from '../../src/plugins/core/storage/s3/sigv4.js'

class NodeSha256 {
  private readonly hash
  constructor(secret?: unknown) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', secret as string)
  }
  update(data: string | Uint8Array): void {
    this.hash.update(data)
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest()
  }
  reset(): void {}
}

// The lean signer must produce exactly the Authorization header of the AWS SDK's own signer, or S3 refuses every
// upload of the fast path. Paths are already S3-encoded (as FastS3 builds them).
describe('S3RequestSigner', () => {
  const cases: {name: string; method: string; path: string; headers: Record<string, string>; query?: Record<string, string>}[] = [
    {name: 'plain PUT', method: 'PUT', path: '/bucket-a/p/d0/f0001.json', headers: {'content-length': '2000', 'content-md5': 'XrY7u+Ae7tCTyyK7j1rNww==', 'x-amz-checksum-crc32': 'NSRBwg=='}},
    {name: 'HEAD with checksum mode', method: 'HEAD', path: '/bucket-a/some%20key%281%29.txt', headers: {'x-amz-checksum-mode': 'ENABLED'}},
    {
      name: 'UploadPart with a query string',
      method: 'PUT',
      path: '/b/big.bin',
      headers: {'content-length': '8388608', 'content-md5': 'IkwGXSbS2tIF7WS1mL/GRQ=='},
      query: {uploadId: 'VXBsb2FkIElE/+=x y', partNumber: '12'},
    },
    {name: 'unicode and reserved characters', method: 'PUT', path: '/b/%C3%A9t%C3%A9/a%2Bb%3Dc%26d%21.bin', headers: {'content-length': '0', 'content-md5': '1B2M2Y8AsgTpgAmY7PhCfg=='}},
  ]
  for (const credentials of [
    {accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'},
    {accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret', sessionToken: 'FwoGZXIvYXdzEJr//////////token=='},
  ]) {
    for (const c of cases) {
      it(`matches the SDK signer: ${c.name}${credentials.sessionToken ? ' (session token)' : ''}`, async () => {
        const now = new Date('2026-11-22T01:02:03Z')
        const host = 's3.eu-west-1.amazonaws.com'
        const reference = new SignatureV4({credentials, region: 'eu-west-1', service: 's3', sha256: NodeSha256 as never, uriEscapePath: false, applyChecksum: false})
        const expected = await reference.sign(
          {method: c.method, protocol: 'https:', hostname: host, path: c.path, query: c.query ?? {}, headers: {...c.headers, host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD'}},
          {signingDate: now},
        )
        const ours = new S3RequestSigner('eu-west-1').sign({method: c.method, host, path: c.path, headers: c.headers, query: c.query}, credentials, now)
        expect(ours.authorization).toBe(expected.headers.authorization)
        expect(ours['x-amz-date']).toBe(expected.headers['x-amz-date'])
        expect(ours['x-amz-security-token']).toBe(expected.headers['x-amz-security-token'])
      })
    }
  }

  it('changes the signature when anything signed changes', () => {
    const signer = new S3RequestSigner('eu-west-1')
    const now = new Date('2026-11-22T01:02:03Z')
    const base = {method: 'PUT', host: 'h', path: '/b/k', headers: {'content-md5': 'a'}}
    const credentials = {accessKeyId: 'A', secretAccessKey: 'S'}
    const signature = signer.sign(base, credentials, now).authorization
    expect(signer.sign({...base, path: '/b/k2'}, credentials, now).authorization).not.toBe(signature)
    expect(signer.sign({...base, headers: {'content-md5': 'b'}}, credentials, now).authorization).not.toBe(signature)
    expect(signer.sign(base, {...credentials, secretAccessKey: 'T'}, now).authorization).not.toBe(signature)
  })
})
