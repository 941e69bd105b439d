// JSON Schema of one record as the clinicaltrials source yields it (flat fields + the study as the API sent it).

/** A ClinicalTrials.gov partial date: YYYY, YYYY-MM or YYYY-MM-DD. */
const partialDate = {type: ['string', 'null'], pattern: '^\\d{4}(-\\d{2}(-\\d{2})?)?$'}

/** @type {import('bucketwright/sources').JsonSchema} */
export const studySchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'ClinicalTrials.gov study (API v2), as archived by bucketwright',
  type: 'object',
  required: ['nct_id', 'last_update_posted', 'overall_status', 'study'],
  properties: {
    nct_id: {type: 'string', pattern: '^NCT\\d{8}$'},
    brief_title: {type: ['string', 'null']},
    overall_status: {
      type: 'string',
      enum: [
        'ACTIVE_NOT_RECRUITING',
        'COMPLETED',
        'ENROLLING_BY_INVITATION',
        'NOT_YET_RECRUITING',
        'RECRUITING',
        'SUSPENDED',
        'TERMINATED',
        'WITHDRAWN',
        'AVAILABLE',
        'NO_LONGER_AVAILABLE',
        'TEMPORARILY_NOT_AVAILABLE',
        'APPROVED_FOR_MARKETING',
        'WITHHELD',
        'UNKNOWN',
      ],
    },
    study_type: {type: ['string', 'null'], enum: ['INTERVENTIONAL', 'OBSERVATIONAL', 'EXPANDED_ACCESS', null]},
    phases: {type: 'array', items: {type: 'string'}},
    conditions: {type: 'array', items: {type: 'string'}},
    enrollment: {type: ['integer', 'null'], minimum: 0},
    start_date: partialDate,
    completion_date: partialDate,
    last_update_posted: {type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$'},
    has_results: {type: 'boolean'},
    snapshot_date: partialDate,
    study: {
      type: 'object',
      required: ['protocolSection'],
      properties: {
        protocolSection: {type: 'object', required: ['identificationModule', 'statusModule']},
        hasResults: {type: 'boolean'},
      },
    },
  },
}
