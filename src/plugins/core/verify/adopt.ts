import {inputsDigest, type OutputManifest, writeManifest} from '../manifest/manifest.js'
import type {Storage} from '../storage/types.js'
import type {OutputFile} from './outputs.js'
import type {RawBucketCount} from './raw.js'
import type {AdoptionResult, VerifyResult} from './result.js'
import type {FileScan} from './scan.js'

/** What the verify run found in one output (a part of assemble's FileFindings). */
interface ReadOutput {
  file: OutputFile
  scan?: FileScan
  records?: number
}

/** Checks an output made by another tool must pass before it is adopted: it is whole, it holds every raw record, its records fit the schema. */
export const ADOPTION_CHECKS = ['integrity', 'raw-counts', 'schema'] as const

/**
 * Adopts outputs made by another tool (no manifest; e.g. the original bustimes converter): after a verify run that
 * re-read every raw object of their buckets, writes each one's manifest as convert would have — the raw objects as
 * inputs, the records counted, the output's size and digests — so later convert runs skip it as up to date and
 * verify checks it against the manifest. Writes nothing at all when any of {@link ADOPTION_CHECKS} failed.
 */
export async function adoptForeignOutputs(output: Storage, result: VerifyResult, findings: ReadOutput[], raw: {counted: Map<string, RawBucketCount>} | undefined, tool: {version: string}): Promise<AdoptionResult> {
  const adoption: AdoptionResult = {adopted: [], refused: []}
  const failed = result.checks.filter((check) => (ADOPTION_CHECKS as readonly string[]).includes(check.name) && check.status === 'fail').map((check) => check.name)
  // An interrupted output of our own convert is not another tool's: convert finishes it (rebuilds it) on its next run.
  for (const finding of findings.filter((finding) => finding.file.interrupted)) {
    adoption.refused.push({output: finding.file.key, reason: 'written by a convert run that stopped before its manifest, not by another tool: run convert again to finish it'})
  }
  const foreign = findings.filter((finding) => !finding.file.manifest && !finding.file.manifestUnreadable && !finding.file.interrupted)
  if (failed.length > 0) {
    adoption.failedChecks = failed
    adoption.refused.push(...foreign.map((finding) => ({output: finding.file.key, reason: `not adopted: check ${failed.join(', ')} failed`})))
    return adoption
  }
  for (const finding of foreign) {
    const {file, scan} = finding
    const counted = raw?.counted.get(file.bucket.label)
    if (!counted) {
      adoption.refused.push({output: file.key, reason: `no raw objects for ${file.bucket.label} under the --raw location to check it against`})
      continue
    }
    if (!scan || scan.error || finding.records === undefined) {
      adoption.refused.push({output: file.key, reason: file.format === 'parquet' ? 'Parquet outputs are not adopted (rebuild them with convert --rebuild-foreign)' : 'it could not be read to its end'})
      continue
    }
    const manifest: OutputManifest = {
      manifestVersion: 1,
      tool: {name: 'bucketwright', version: tool.version},
      command: 'verify --adopt',
      source: result.source,
      createdAt: new Date().toISOString(),
      output: {key: file.key, size: file.size, md5: scan.md5, sha256: scan.sha256, format: file.format, compression: file.compression},
      bucket: {key: file.bucket.label, from: file.bucket.start.toISOString(), to: file.bucket.end.toISOString()},
      inputs: counted.inputs,
      inputsDigest: inputsDigest(counted.inputs),
      counts: {objects: counted.objects, records: finding.records, quarantined: counted.undecodable.length, bytesIn: counted.bytes},
      quarantined: counted.undecodable,
      extra: {adopted: {reason: 'made by another tool: checked against its raw objects (records per bucket, integrity, schema) and adopted'}},
    }
    await writeManifest(output, manifest)
    adoption.adopted.push(file.key)
  }
  return adoption
}
