/** What the transport hands a route handler and what it expects back. Nothing here knows a domain module. */

export interface RequestCtx {
  method: string;
  /** The raw (still percent-encoded) path. */
  path: string;
  query: URLSearchParams;
  /** Lower-case header names. */
  headers: Record<string, string>;
  ip: string;
  /** Path parameters, percent-decoded. */
  params: Record<string, string>;
  body: Buffer | null;
}

/** A file sent in chunks (never read whole), with Range support; `done` runs once it was sent or abandoned. */
export interface FileBody {
  path: string;
  done?: () => void;
}

export interface Reply {
  status: number;
  json?: unknown;
  text?: string;
  /** Binary body held in memory (small: a JPEG), sent with contentType. */
  body?: Uint8Array;
  /** A file streamed from disk (clips, media), sent with contentType; answers Range requests with 206 / 416. */
  file?: FileBody;
  contentType?: string;
  headers?: Record<string, string>;
}

export type Handler = (ctx: RequestCtx) => Promise<Reply>;

export type Method = 'get' | 'post' | 'put' | 'patch' | 'del';

export interface Route {
  method: Method;
  /** uWS pattern: `/cameras/:id`, `/media/*`. */
  pattern: string;
  /** uWS path parameter names, in order */
  params?: string[];
  body?: boolean;
  /** Body limit for this route in bytes (e.g. an uploaded JPEG); default the server's maxBodyBytes. */
  maxBodyBytes?: number;
  handler: Handler;
}

/** Routes registered together, like a fastify plugin: the composition root mounts each module once. */
export interface RouteModule {
  readonly name: string;
  readonly routes: readonly Route[];
}

/** A WebSocket endpoint; `upgrade` decides from the request headers (a Reply refuses it). */
export interface WsEndpoint<T> {
  pattern: string;
  maxPayloadLength: number;
  maxBackpressure: number;
  idleTimeoutS: number;
  /** Sub-protocol the server speaks, picked when the client offers it. */
  protocol: string;
  upgrade(headers: Record<string, string>, offeredProtocols: string[]): { data: T } | { refuse: Reply };
  open(socket: WsSocket<T>): void;
  message(socket: WsSocket<T>, message: ArrayBuffer, isBinary: boolean): void;
  drain(socket: WsSocket<T>): void;
  close(socket: WsSocket<T>): void;
  /** Counted like a request (metrics): the status of each upgrade answer. */
  onAnswer?(status: number): void;
}

/** The uWS WebSocket as handlers see it (getUserData plus whatever the endpoint's own socket interface reads). */
export interface WsSocket<T> {
  getUserData(): T;
}
