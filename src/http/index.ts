/** The transport: routes and WebSocket endpoints in, uWS out. No domain module is imported from here. */
export { createHttpServer, patternMatches } from './server.js';
export type { HttpServer, HttpServerOptions, HttpMounts } from './server.js';
export { HttpError, errorReply, STATUS_TEXT } from './errors.js';
export { parseRange } from './range.js';
export * from './request.js';
export type { RequestCtx, Reply, FileBody, Handler, Method, Route, RouteModule, WsEndpoint, WsSocket } from './types.js';
