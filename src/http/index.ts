/** Public surface of the front door (REST + WebSocket + auth) for the server wiring and for embedding. */
export { createHttpServer, WS_PROTOCOL, WS_BEARER_PREFIX } from './server.js';
export type { HttpServerOptions, HttpServerDeps, VigilHttpServer } from './server.js';
export { AuthService } from '../auth/service.js';
export type { AuthConfig, LoginResult } from '../auth/service.js';
export type { LdapConfig, LdapGroupMapping } from '../auth/ldap.js';
export { authorize, canSeeCamera, scopeCameras } from '../auth/policy.js';
export type { Principal, Role, Action } from '../auth/policy.js';
export { HealthRegistry } from '../services/health.js';
export type { HealthCheck, HealthCheckResult, ServiceStatus } from '../services/health.js';
export { MemoryCameraDirectory, MemoryDetectionQuery, cameraDirectoryFrom } from '../api/sources.js';
export { StoreDetectionQuery } from '../store/api-source.js';
export type { CameraDirectory, DetectionQuery, DetectionQueryParams, DetectionPage } from '../api/sources.js';
export { RingEventLog } from '../stream/ring.js';
export type { EventLog, StreamEvent, SequencedEvent, EventKind, TrackEventData, CameraStatusEventData } from '../stream/events.js';
export { WireEncoder, readMessage, SCHEMA_VERSION } from '../stream/codec.js';
export { openApiDocument } from '../api/openapi.js';
