import type {Readable} from 'node:stream'

import {DecodeError, maybeDecompress, readLines, type SourceRecord} from '../core/source-kit.js'

/** A pretty-printed document larger than this is not a BSM file; stop before holding it all. */
const MAX_DOCUMENT_BYTES = 64 * 1024 * 1024

/** Brace depth of JSON text outside strings, carried across lines. */
interface ScanState {
  depth: number
  inString: boolean
  escaped: boolean
}

function scan(text: string, state: ScanState): void {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (state.inString) {
      if (state.escaped) state.escaped = false
      else if (c === 0x5c) state.escaped = true
      else if (c === 0x22) state.inString = false
    } else if (c === 0x22) state.inString = true
    else if (c === 0x7b || c === 0x5b) state.depth++
    else if (c === 0x7d || c === 0x5d) state.depth--
  }
}

function asRecord(value: unknown, line: number): SourceRecord {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DecodeError(`line ${line} is JSON but not an object (a BSM record is {"metadata":…,"payload":…})`, {line})
  }
  return value as SourceRecord
}

/**
 * Decodes a WYDOT object: NDJSON with one record a line (files since 2018-01-18), or one record per file, compact
 * or pretty-printed across many lines (earlier files and the sandbox samples). gzip/zstd bodies are unpacked.
 * Every line is tried as a record first (the common, fast case); a line that opens a document spanning several
 * lines is joined with the following ones until its braces close.
 */
export async function* decodeBsmObject(body: Readable): AsyncIterable<SourceRecord> {
  let pending: string[] = []
  let pendingBytes = 0
  let pendingStart = 0
  const state: ScanState = {depth: 0, inString: false, escaped: false}
  for await (const {number, text} of readLines(await maybeDecompress(body))) {
    if (pending.length === 0) {
      const trimmed = text.trim()
      if (trimmed === '') continue
      let parsed: unknown
      try {
        parsed = JSON.parse(trimmed)
      } catch (error) {
        state.depth = 0
        state.inString = false
        state.escaped = false
        scan(trimmed, state)
        if (state.depth <= 0 || !trimmed.startsWith('{')) {
          throw new DecodeError(`line ${number} is not valid JSON: ${(error as Error).message}`, {line: number})
        }
        pending = [trimmed]
        pendingBytes = trimmed.length
        pendingStart = number
        continue
      }
      yield asRecord(parsed, number)
      continue
    }
    pending.push(text)
    pendingBytes += text.length
    if (pendingBytes > MAX_DOCUMENT_BYTES) {
      throw new DecodeError(`the JSON document starting at line ${pendingStart} is larger than ${MAX_DOCUMENT_BYTES} bytes`, {line: pendingStart})
    }
    scan(text, state)
    if (state.depth > 0) continue
    const joined = pending.join('\n')
    pending = []
    pendingBytes = 0
    let parsed: unknown
    try {
      parsed = JSON.parse(joined)
    } catch (error) {
      throw new DecodeError(`the JSON document on lines ${pendingStart}–${number} is not valid JSON: ${(error as Error).message}`, {line: pendingStart})
    }
    yield asRecord(parsed, pendingStart)
  }
  if (pending.length > 0) {
    throw new DecodeError(`the JSON document starting at line ${pendingStart} is cut off (object ends before its closing brace)`, {line: pendingStart})
  }
}
