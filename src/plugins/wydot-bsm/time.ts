/**
 * ODE timestamps come as Java `ZonedDateTime` strings with a zone suffix (`2017-08-15T23:49:31.677Z[UTC]`, schema
 * versions 1–5) or as plain ISO 8601 (`2018-05-06T20:26:28.690Z`, version 6). Anything else (the THEA SPaT
 * `2019-01-14 00:00:00.035 [ET]` local time) is not a UTC instant and gives `undefined`.
 */
const ODE_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?)(Z|[+-]\d{2}:\d{2})(?:\[UTC\])?$/

/** Parses an ODE timestamp, with or without the `[UTC]` suffix; `undefined` when it is not one. */
export function parseOdeTime(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined
  const match = ODE_TIME.exec(value)
  if (!match) return undefined
  const date = new Date(match[1] + match[2])
  return Number.isNaN(date.getTime()) ? undefined : date
}

/** The event time of a BSM record: `metadata.recordGeneratedAt` (v3+), or `metadata.generatedAt` in schema v1. */
export function bsmRecordTime(record: Record<string, unknown>): Date | undefined {
  const metadata = record.metadata as Record<string, unknown> | undefined
  if (!metadata) return undefined
  return parseOdeTime(metadata.recordGeneratedAt ?? metadata.generatedAt)
}
