/**
 * Every error Vigil raises on purpose is a VigilError with a stable string `code`: callers branch on the code,
 * never on the message. Messages are for people and never carry secrets (see redact.ts).
 */
export class VigilError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A caller passed something of the wrong type or out of range. */
export class VigilArgumentError extends VigilError {
  constructor(message: string) {
    super('E_ARGUMENT', message);
  }
}

/** An object was used after close(). */
export class VigilClosedError extends VigilError {
  constructor(what: string, method?: string) {
    super('E_CLOSED', `${what} is closed${method ? `: ${method}() called after close()` : ''}`);
  }
}

/** Configuration that cannot be used, with the path of the offending key in the message. */
export class VigilConfigError extends VigilError {
  constructor(message: string) {
    super('E_CONFIG', message);
  }
}

/**
 * Bytes that are not a well-formed Vigil wire message (schemas/flatbuffers/message.fbs), refused by readMessage():
 * too short, no "VGL1" file identifier, an offset, vector or string out of bounds or misaligned, a missing required
 * field, an unknown payload type. The message names what was wrong and where (byte positions in the buffer).
 */
export class WireFormatError extends VigilError {
  constructor(message: string) {
    super('E_WIRE_FORMAT', message);
  }
}

/** A camera pipeline failed: building it, starting it, or while running (source gone, decode error). */
export class VigilPipelineError extends VigilError {}

/** Renders a received value for an error message: short, typed, and never a whole object graph. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  return `an object of type ${(value as object).constructor?.name ?? 'Object'}`;
}

/** The one message shape for bad arguments: "Expected X for name but received V". */
export function expected(what: string, name: string, value: unknown): VigilArgumentError {
  return new VigilArgumentError(`Expected ${what} for ${name} but received ${describeValue(value)}`);
}
