import {studySchema} from './schema.js'

const DAY_MS = 86_400_000
/** @param {unknown} error */
const reason = (error) => (error instanceof Error ? error.message : String(error))
const two = (n) => String(n).padStart(2, '0')
const dayPath = (time) => `${time.getUTCFullYear()}/${two(time.getUTCMonth() + 1)}/${two(time.getUTCDate())}/`

/**
 * The raw layout: a harvester saves what the API returned each day, one study per file
 * (`ctgov/YYYY/MM/DD/NCT01234567.json`, the body of GET /api/v2/studies/{nctId}) or search pages
 * (`ctgov/YYYY/MM/DD/page-0001.json`, the body of GET /api/v2/studies: {"studies": [...], "nextPageToken"}).
 * @returns {import('bucketwright/sources').RawLayout}
 */
function layout(prefix) {
  const pattern = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\d{4})/(\\d{2})/(\\d{2})/[^/]+\\.json(\\.gz)?$`)
  return {
    pattern: `${prefix}YYYY/MM/DD/<NCT id or page-N>.json`,
    timeFromKey(key) {
      const match = pattern.exec(key)
      return match ? new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]))) : undefined
    },
    prefixesFor({from, to}) {
      const prefixes = []
      for (let day = Math.floor(from.getTime() / DAY_MS) * DAY_MS; day < to.getTime(); day += DAY_MS) prefixes.push(prefix + dayPath(new Date(day)))
      return prefixes
    },
    allPrefixes: () => [prefix],
    keyFor: (time, sequence = 0) => `${prefix}${dayPath(time)}page-${String(sequence + 1).padStart(4, '0')}.json`,
  }
}

/** A study's flat fields (the columns people filter on), with the whole study kept beside them. */
function toRecord(study, core, key) {
  const protocol = study?.protocolSection
  const id = protocol?.identificationModule
  const status = protocol?.statusModule
  if (!id?.nctId || !status) {
    throw new core.DecodeError(`${key}: not a ClinicalTrials.gov study (no protocolSection.identificationModule.nctId / statusModule)`, {field: 'protocolSection'})
  }
  const design = protocol.designModule ?? {}
  return {
    nct_id: id.nctId,
    brief_title: id.briefTitle ?? null,
    overall_status: status.overallStatus,
    study_type: design.studyType ?? null,
    phases: design.phases ?? [],
    conditions: protocol.conditionsModule?.conditions ?? [],
    enrollment: design.enrollmentInfo?.count ?? null,
    start_date: status.startDateStruct?.date ?? null,
    completion_date: status.completionDateStruct?.date ?? null,
    last_update_posted: status.lastUpdatePostDateStruct?.date ?? status.lastUpdateSubmitDate,
    has_results: study.hasResults === true,
    snapshot_date: study.derivedSection?.miscInfoModule?.versionHolder ?? null,
    study,
  }
}

/**
 * The `clinicaltrials` data source, built with the host's source kit.
 * @param {import('bucketwright/sources').SourceKit} core
 * @param {string} [prefix]
 * @returns {import('bucketwright/sources').DataSource}
 */
export function clinicalTrialsSource(core, prefix = 'ctgov/') {
  return {
    name: 'clinicaltrials',
    description: 'ClinicalTrials.gov API v2 study records (single studies, search pages or NDJSON)',
    layout: layout(prefix),
    // One study (GET /api/v2/studies/{nctId}), a search page ({"studies": [...]}), or NDJSON with one study a line
    // (segments written by `bucketwright ingest`, bulk dumps). Objects are small: read whole, then parse.
    async *decode(body, object) {
      const text = (await core.readAll(await core.maybeDecompress(body))).toString('utf8')
      let document
      try {
        document = JSON.parse(text)
      } catch (error) {
        const lines = text.split('\n')
        if (lines.filter((line) => line.trim() !== '').length < 2) throw new core.DecodeError(`${object.key} is not valid JSON: ${reason(error)}`)
        for (const [index, line] of lines.entries()) {
          if (line.trim() === '') continue
          let study
          try {
            study = JSON.parse(line)
          } catch (lineError) {
            throw new core.DecodeError(`${object.key} line ${index + 1} is not valid JSON: ${reason(lineError)}`, {line: index + 1})
          }
          yield toRecord(study, core, object.key)
        }
        return
      }
      const studies = Array.isArray(document?.studies) ? document.studies : [document]
      for (const study of studies) yield toRecord(study, core, object.key)
    },
    schema: studySchema,
    timeField: 'last_update_posted',
    recordTime: (record) => (typeof record.last_update_posted === 'string' ? new Date(`${record.last_update_posted}T00:00:00Z`) : undefined),
    recordKey: ['nct_id', 'last_update_posted'],
    options: {prefix: 'key prefix before YYYY/MM/DD/ (default ctgov/)'},
    configure(options) {
      for (const key of Object.keys(options)) if (key !== 'prefix') throw new Error(`unknown option ${key} (clinicaltrials takes: prefix)`)
      const chosen = options.prefix ?? prefix
      return clinicalTrialsSource(core, chosen && !chosen.endsWith('/') ? `${chosen}/` : chosen)
    },
  }
}
