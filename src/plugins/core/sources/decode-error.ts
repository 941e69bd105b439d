/**
 * Raised by a source's decoder for input it cannot decode. The object is quarantined with this reason; `offset`
 * (byte or character) and `line` point at the problem when known.
 */
export class DecodeError extends Error {
  constructor(
    message: string,
    readonly where: {offset?: number; line?: number; field?: string} = {},
  ) {
    super(message)
    this.name = 'DecodeError'
  }
}
