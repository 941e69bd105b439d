import type {ValidateFunction} from 'ajv'

import {shortened} from '../command/printable.js'
import type {JsonSchema} from '../sources/types.js'

/** Violations of one field path: how many, and one example. */
export interface SchemaViolation {
  /** JSON-pointer-like dotted path, e.g. `payload.data.coreData.position.elevation`. */
  path: string
  /** ajv keyword that failed (`type`, `required`, …). */
  keyword: string
  message: string
  count: number
  /**
   * One offending value and where it was (`key:line`). A value longer than {@link EXAMPLE_MAX} characters as JSON
   * is kept shortened and marked `truncated`: a string cut, anything else as its JSON text cut.
   */
  example: {value: unknown; where?: string; truncated?: true}
}

/** Longest example kept, in characters of JSON: a whole record or a megabyte string is not an example. */
export const EXAMPLE_MAX = 200

/**
 * Validates records against a JSON Schema with ajv and tallies violations per field path, keeping one example
 * each — the summary `--validate` and verify print.
 */
export class RecordValidator {
  private readonly tally = new Map<string, SchemaViolation>()
  recordsChecked = 0
  recordsInvalid = 0

  private constructor(
    private readonly check: ValidateFunction,
    /** Stops at the first error: most records are valid, and only the invalid ones need every error listed. */
    private readonly quick: ValidateFunction = check,
  ) {}

  static async create(schema: JsonSchema): Promise<RecordValidator> {
    const [{default: Ajv2020}, {default: addFormats}] = await Promise.all([import('ajv/dist/2020.js'), import('ajv-formats')])
    const AjvClass = Ajv2020 as unknown as typeof import('ajv').default
    const compile = (allErrors: boolean) => {
      const ajv = new AjvClass({allErrors, strict: false, allowUnionTypes: true})
      ;(addFormats as unknown as (a: unknown) => void)(ajv)
      const {$schema: _ignored, ...rest} = schema as Record<string, unknown>
      return ajv.compile(rest)
    }
    return new RecordValidator(compile(true), compile(false))
  }

  /** Checks one record; returns true when valid. `where` (object key, line) goes into the first example. */
  validate(record: unknown, where?: string): boolean {
    this.recordsChecked++
    if (this.quick(record) || this.check(record)) return true
    this.recordsInvalid++
    for (const error of this.check.errors ?? []) {
      let fieldPath = error.instancePath.split('/').slice(1).join('.')
      if (error.keyword === 'required') fieldPath = [fieldPath, (error.params as {missingProperty: string}).missingProperty].filter(Boolean).join('.')
      const id = `${fieldPath}\u0000${error.keyword}`
      const existing = this.tally.get(id)
      if (existing) existing.count++
      else this.tally.set(id, {path: fieldPath || '(record)', keyword: error.keyword, message: error.message ?? error.keyword, count: 1, example: {...exampleOf(valueAt(record, error.instancePath)), where}})
    }
    return false
  }

  /** A validator with the same compiled schema and an empty tally (no recompilation): one per file or thread. */
  fork(): RecordValidator {
    return new RecordValidator(this.check, this.quick)
  }

  /**
   * Adds the findings of another validator of the same schema (a fork, or one on a worker thread) to this one:
   * counts are summed, the first example of each field path is kept. Merge in a fixed order for stable examples.
   */
  merge(other: {recordsChecked: number; recordsInvalid: number; violations: SchemaViolation[]}): void {
    this.recordsChecked += other.recordsChecked
    this.recordsInvalid += other.recordsInvalid
    for (const violation of other.violations) {
      const id = `${violation.path === '(record)' ? '' : violation.path}\u0000${violation.keyword}`
      const existing = this.tally.get(id)
      if (existing) existing.count += violation.count
      else this.tally.set(id, {...violation})
    }
  }

  /** Violations so far, most frequent first. */
  violations(): SchemaViolation[] {
    return [...this.tally.values()].sort((a, b) => b.count - a.count || a.path.localeCompare(b.path))
  }
}

function exampleOf(value: unknown): {value: unknown; truncated?: true} {
  if (typeof value === 'string') return value.length <= EXAMPLE_MAX ? {value} : {value: shortened(value, EXAMPLE_MAX), truncated: true}
  const json = JSON.stringify(value)
  return json === undefined || json.length <= EXAMPLE_MAX ? {value} : {value: shortened(json, EXAMPLE_MAX), truncated: true}
}

function valueAt(record: unknown, pointer: string): unknown {
  let current = record as Record<string, unknown> | undefined
  for (const part of pointer.split('/').slice(1)) current = current?.[part.replaceAll('~1', '/').replaceAll('~0', '~')] as Record<string, unknown> | undefined
  return current
}
