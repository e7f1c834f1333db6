/** Request/response shapes shared by the uWS adapter (src/http/server.ts) and the route handlers (routes.ts). */
import { VigilError } from '../errors.js';

export interface RequestCtx {
  method: string;
  path: string;
  query: URLSearchParams;
  /** Lower-case header names. */
  headers: Record<string, string>;
  ip: string;
  params: Record<string, string>;
  body: Buffer | null;
}

export interface Reply {
  status: number;
  json?: unknown;
  text?: string;
  /** Binary body (e.g. an MP4 clip), sent with contentType. */
  body?: Uint8Array;
  contentType?: string;
  headers?: Record<string, string>;
}

/** An error with its HTTP status; rendered as {error:{code,message}}. */
export class HttpError extends VigilError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(code, message);
  }
}

export const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};
