/** Where the daemon runs, as the instance metadata service tells. */
export interface Ec2Detection {
  onEc2: boolean
  instanceId?: string
  region?: string
  /** Why it is not EC2 (disabled, no answer in time, refused). */
  reason?: string
}

/** Options of {@link detectEc2}. */
export interface Ec2DetectionOptions {
  /** The metadata endpoint; default `AWS_EC2_METADATA_SERVICE_ENDPOINT` (as the AWS SDK reads it) or 169.254.169.254. */
  endpoint?: string
  /** Per request; a laptop has no metadata service, so this bounds the start-up delay (default 1,000 ms). */
  timeoutMs?: number
}

/**
 * Detects EC2 through IMDSv2: a PUT for a session token first (IMDSv1-only answers are not trusted), then the
 * instance id and region with that token. `AWS_EC2_METADATA_DISABLED=true` turns detection off, as in the SDK.
 */
export async function detectEc2(options: Ec2DetectionOptions = {}): Promise<Ec2Detection> {
  if (process.env.AWS_EC2_METADATA_DISABLED?.toLowerCase() === 'true') return {onEc2: false, reason: 'AWS_EC2_METADATA_DISABLED=true'}
  const endpoint = (options.endpoint ?? process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT ?? 'http://169.254.169.254').replace(/\/+$/, '')
  const timeoutMs = options.timeoutMs ?? 1000
  try {
    const tokenResponse = await fetch(`${endpoint}/latest/api/token`, {
      method: 'PUT',
      headers: {'x-aws-ec2-metadata-token-ttl-seconds': '60'},
      signal: AbortSignal.timeout(timeoutMs),
    })
    if (!tokenResponse.ok) return {onEc2: false, reason: `token request answered ${tokenResponse.status}`}
    const token = (await tokenResponse.text()).trim()
    const get = async (path: string) => {
      const response = await fetch(`${endpoint}/latest/meta-data/${path}`, {headers: {'x-aws-ec2-metadata-token': token}, signal: AbortSignal.timeout(timeoutMs)})
      return response.ok ? (await response.text()).trim() : undefined
    }
    const instanceId = await get('instance-id')
    if (!instanceId) return {onEc2: false, reason: 'no instance id'}
    return {onEc2: true, instanceId, region: await get('placement/region').catch(() => undefined)}
  } catch (error) {
    return {onEc2: false, reason: (error as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (error as Error).message}
  }
}
