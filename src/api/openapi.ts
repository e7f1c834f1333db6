/**
 * The OpenAPI 3.1 document served at GET /openapi.json. Its component schemas are JSON Schema 2020-12, and the
 * tests validate real responses against them (ajv), so this document is the contract, not decoration.
 */
/** A component schema by name. */
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const jsonResp = (description: string, schema: object) => ({
  description,
  content: { 'application/json': { schema } },
});
const errResp = (description: string) => jsonResp(description, ref('Error'));
/** A required JSON request body. */
const jsonBody = (schema: object) => ({ required: true, content: { 'application/json': { schema } } });
/** The `{id}` path parameter of the routes on one resource. */
const idParam = [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }];
const usernameParam = { name: 'username', in: 'path', required: true, schema: { type: 'string' } };
const authErrors = {
  '401': errResp('Missing, invalid, expired or revoked access token'),
  '403': errResp('Role or camera scope does not allow this'),
};

/** Fields a cluster node adds to answers gathered from every node (src/cluster/reads.ts). */
const CLUSTER_PARTIAL = {
  partial: { type: 'boolean', description: 'Cluster nodes only: true when some node did not answer within cluster.queryTimeoutMs' },
  missing_nodes: { type: 'array', items: { type: 'string' }, description: 'Cluster nodes only: the nodes that did not answer' },
} as const;

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Vigil API',
    version: '1.0.0',
    description:
      'Vigil video-analytics server REST API. Live events come over the WebSocket /ws as FlatBuffers ' +
      '(schemas/flatbuffers/message.fbs); authenticate with the access token in the Authorization header or as the ' +
      'Sec-WebSocket-Protocol value "bearer.<token>" next to "vigil.v1". On a cluster node the stream\'s sequence ' +
      'numbers are the cluster\'s (the JetStream sequence of the cluster events stream), so a subscribe with ' +
      'resume_after continues on any node.',
  },
  servers: [{ url: 'http://localhost:8001', description: 'Default local server' }],
  security: [{ bearerAuth: [] }],
  paths: {
    '/health': {
      get: {
        summary: 'Health of the server; its services only for operators and admins',
        description:
          'Without a token (or with a viewer\'s, or a bad one) only the overall status and time; with an operator\'s or ' +
          'admin\'s access token also each service\'s status, response time and detail (camera-scoped callers do not ' +
          'get site-wide integrations). A load balancer needs no token.',
        tags: ['System'],
        security: [{}, { bearerAuth: [] }],
        responses: {
          '200': jsonResp('Healthy or degraded', ref('HealthStatus')),
          '503': jsonResp('Unhealthy', ref('HealthStatus')),
        },
      },
    },
    '/auth/login': {
      post: {
        summary: 'Log in with a local or LDAP user',
        tags: ['Authentication'],
        security: [],
        requestBody: jsonBody(ref('LoginRequest')),
        responses: {
          '200': jsonResp('Authenticated', ref('LoginResponse')),
          '400': errResp('Malformed request'),
          '401': errResp('Invalid username or password'),
          '403': errResp('Authenticated but mapped to no role'),
          '413': errResp('Body too large'),
          '429': errResp('Too many attempts from this address or for this user (Retry-After header)'),
          '503': errResp('Directory (LDAP) unreachable'),
        },
      },
    },
    '/auth/refresh': {
      post: {
        summary: 'Rotate a refresh token (a reused one revokes its whole session)',
        tags: ['Authentication'],
        security: [],
        requestBody: jsonBody(ref('RefreshRequest')),
        responses: {
          '200': jsonResp('New token pair', ref('TokenPair')),
          '400': errResp('Malformed request'),
          '401': errResp('Invalid, expired, revoked or reused refresh token'),
        },
      },
    },
    '/auth/logout': {
      post: {
        summary: 'Revoke the session of a refresh token (its access tokens stop working too)',
        tags: ['Authentication'],
        security: [],
        requestBody: jsonBody(ref('RefreshRequest')),
        responses: {
          '204': { description: 'Session revoked' },
          '400': errResp('Malformed request'),
          '401': errResp('Invalid or expired refresh token'),
        },
      },
    },
    '/auth/saml/login': {
      get: {
        summary: 'Start a SAML 2.0 single sign-on (SP-initiated; only when auth.saml is configured)',
        description:
          'HTTP-Redirect binding (auth.saml.idp.binding redirect, the default): 302 to the IdP with the deflated, ' +
          'base64 AuthnRequest in SAMLRequest, signed with SigAlg and Signature (RSA-SHA256) when auth.saml.sp has a ' +
          'key. HTTP-POST binding: a page whose form posts the AuthnRequest to the IdP. `next` comes back as RelayState.',
        tags: ['Authentication'],
        security: [],
        parameters: [{ name: 'next', in: 'query', schema: { type: 'string', pattern: '^/' }, description: 'Local path to open after the login; default auth.saml.afterLogin ("/")' }],
        responses: {
          '200': { description: 'HTTP-POST binding: the auto-submitting form', content: { 'text/html': { schema: { type: 'string' } } } },
          '302': { description: 'HTTP-Redirect binding: Location is the IdP SSO URL with SAMLRequest (and RelayState, SigAlg, Signature)' },
          '400': errResp('`next` is not a local path'),
        },
      },
    },
    '/auth/saml/acs': {
      post: {
        summary: 'SAML assertion consumer service (HTTP-POST binding)',
        description:
          'The IdP posts the Response here. The assertion must be signed by an auth.saml.idp certificate, issued by ' +
          'auth.saml.idp.entityId, name this SP as audience and the ACS URL as Recipient (and Destination), be within ' +
          'its NotBefore/NotOnOrAfter (auth.saml.clockSkewS either way), answer an unexpired login request of this ' +
          'server (InResponseTo) and be new (assertion ids are remembered until they expire). Success starts the same ' +
          'session as a password login: 303 to `next` with the console refresh cookie (vigil_refresh, Path ' +
          '/console/session), which POST /console/session/refresh exchanges for an access token.',
        tags: ['Authentication'],
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': {
              schema: { type: 'object', required: ['SAMLResponse'], properties: { SAMLResponse: { type: 'string', description: 'base64 of the Response XML' }, RelayState: { type: 'string' } } },
            },
          },
        },
        responses: {
          '303': { description: 'Logged in: Location is `next`; Set-Cookie carries the session' },
          '400': errResp('E_SAML_REQUEST: no SAMLResponse, not base64, not XML, a DOCTYPE, or not a SAML Response'),
          '401': errResp(
            'Refused, no session: E_SAML_SIGNATURE (forged, unsigned or altered), E_SAML_ISSUER, E_SAML_RECIPIENT ' +
              '(Recipient or Destination), E_SAML_EXPIRED, E_SAML_NOT_YET_VALID, E_SAML_AUDIENCE, E_SAML_REPLAY, ' +
              'E_SAML_IN_RESPONSE_TO (unknown, expired or used request; unsolicited), E_SAML_STATUS (the IdP refused), ' +
              'E_SAML_INVALID (malformed assertion)',
          ),
          '403': errResp('E_AUTH_NO_ROLE: no group attribute value maps to a role and there is no defaultRole'),
          '413': errResp('Body too large'),
          '415': errResp('Not application/x-www-form-urlencoded'),
          '429': errResp('Too many login attempts from this address (Retry-After header)'),
          '503': errResp('E_SAML_REPLAY_CACHE_FULL: too many recent logins to remember'),
        },
      },
    },
    '/auth/saml/metadata': {
      get: {
        summary: 'SAML service provider metadata (EntityDescriptor) to register at the identity provider',
        tags: ['Authentication'],
        security: [],
        responses: {
          '200': { description: 'The SP metadata', content: { 'application/samlmetadata+xml': { schema: { type: 'string' } } } },
        },
      },
    },
    '/cameras': {
      get: {
        summary: 'Cameras in the caller scope',
        description:
          'On a cluster node: every camera of the cluster with its node and lease; headers Vigil-Partial (true when a ' +
          'node did not answer within cluster.queryTimeoutMs) and Vigil-Missing-Nodes (their ids, comma-separated).',
        tags: ['Cameras'],
        parameters: [
          {
            name: 'status',
            in: 'query',
            schema: {
              type: 'string',
              enum: ['all', 'active', 'inactive', 'error', 'starting', 'running', 'stalled', 'reconnecting', 'stopped', 'failed'],
            },
            description: 'The document status (active = starting|running; error = stalled|reconnecting|failed; inactive = stopped) or a finer state',
          },
        ],
        responses: {
          '200': jsonResp('Cameras', { type: 'array', items: ref('Camera') }),
          '400': errResp('Bad parameter'),
          ...authErrors,
        },
      },
      post: {
        summary: 'Add a camera (admin): persisted, started at once and after every restart',
        description: 'The body is a camera mapping as under `cameras:` in the config file (same keys, defaults and checks).',
        tags: ['Cameras'],
        requestBody: jsonBody(ref('CameraDefinition')),
        responses: {
          '201': jsonResp('The camera added', ref('Camera')),
          '400': errResp('Invalid camera definition'),
          ...authErrors,
          '409': errResp('A camera with this id exists'),
        },
      },
    },
    '/cameras/{id}': {
      get: {
        summary: 'One camera',
        tags: ['Cameras'],
        parameters: idParam,
        responses: {
          '200': jsonResp('Camera', ref('Camera')),
          ...authErrors,
          '404': errResp('No such camera'),
        },
      },
      put: {
        summary: 'Replace a camera added over the API (admin); it restarts with the new definition',
        tags: ['Cameras'],
        parameters: idParam,
        requestBody: jsonBody(ref('CameraDefinition')),
        responses: {
          '200': jsonResp('The camera after the change', ref('Camera')),
          '400': errResp('Invalid camera definition'),
          ...authErrors,
          '404': errResp('No such camera'),
          '409': errResp('The camera comes from the config file or a VMS, or the body names another id'),
        },
      },
      delete: {
        summary: 'Remove a camera added over the API (admin)',
        tags: ['Cameras'],
        parameters: idParam,
        responses: {
          '204': { description: 'Removed' },
          ...authErrors,
          '404': errResp('No such camera'),
          '409': errResp('The camera comes from the config file or a VMS'),
        },
      },
    },
    '/detections': {
      get: {
        summary: 'Stored detections, newest first',
        tags: ['Detections'],
        parameters: [
          { name: 'camera_id', in: 'query', schema: { type: 'string' } },
          {
            name: 'start_time',
            in: 'query',
            schema: { type: 'string' },
            description: 'RFC 3339 date-time or integer nanoseconds since the epoch (inclusive)',
          },
          { name: 'end_time', in: 'query', schema: { type: 'string' }, description: 'As start_time (exclusive)' },
          { name: 'confidence_min', in: 'query', schema: { type: 'number', minimum: 0, maximum: 1 } },
          { name: 'class', in: 'query', schema: { type: 'string' }, description: 'Comma-separated class names or ids' },
          { name: 'page', in: 'query', schema: { type: 'integer', minimum: 1, default: 1 } },
          { name: 'page_size', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
        ],
        responses: {
          '200': jsonResp('A page of detections', ref('DetectionList')),
          '400': errResp('Bad parameter'),
          ...authErrors,
        },
      },
    },
    '/search': {
      post: {
        summary: 'Tracks similar to an example (a stored track, a vector or an uploaded JPEG), with filters',
        description:
          'Results come only from cameras in the caller scope: the requested cameras are intersected with it ' +
          '(none requested = the whole scope). An uploaded image is cropped whole (letterboxed) to the embedder ' +
          'input; its k and filters come from the query string.',
        tags: ['Search'],
        parameters: [
          { name: 'k', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 10 }, description: 'Image uploads only' },
          { name: 'cameras', in: 'query', schema: { type: 'string' }, description: 'Image uploads only: comma-separated camera ids' },
          { name: 'start_time', in: 'query', schema: { type: 'string' }, description: 'Image uploads only: RFC 3339 or integer ns (inclusive)' },
          { name: 'end_time', in: 'query', schema: { type: 'string' }, description: 'Image uploads only: as start_time (inclusive)' },
          { name: 'class', in: 'query', schema: { type: 'string' }, description: 'Image uploads only: class name' },
        ],
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: ref('SearchRequest') },
            'image/jpeg': { schema: { type: 'string', format: 'binary' }, description: 'At most 4 MiB and 16 000 000 pixels' },
          },
        },
        responses: {
          '200': jsonResp('Most similar tracks first', ref('SearchResults')),
          '400': errResp('Malformed body, bad filter, vector of the wrong size, or an image that does not decode'),
          ...authErrors,
          '404': errResp('No embedding stored for the example track'),
          '413': errResp('Body too large (JSON 64 KiB, JPEG 4 MiB)'),
          '415': errResp('Content-Type is neither application/json nor image/jpeg'),
          '503': errResp('Search by image without an embedder on this server; on a cluster node, E_CLUSTER_PARTIAL: the example track is on none of the nodes that answered'),
        },
      },
    },
    '/alerts': {
      get: {
        summary: 'Alerts, newest first, with filters',
        tags: ['Alerts'],
        parameters: [
          { name: 'camera_id', in: 'query', schema: { type: 'string' }, description: 'A camera outside the caller scope gives an empty page, as a camera that does not exist' },
          { name: 'rule_id', in: 'query', schema: { type: 'string' } },
          { name: 'state', in: 'query', schema: { type: 'string', enum: ['raised', 'updated', 'cleared', 'acknowledged'] } },
          { name: 'start_time', in: 'query', schema: { type: 'string' }, description: 'RFC 3339 or integer ns' },
          { name: 'end_time', in: 'query', schema: { type: 'string' } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1 } },
          { name: 'cursor', in: 'query', schema: { type: 'string' }, description: 'next_cursor of the previous page' },
        ],
        responses: {
          '200': jsonResp('A page of alerts in the caller scope', {
            type: 'object',
            required: ['alerts', 'next_cursor'],
            additionalProperties: false,
            properties: {
              alerts: { type: 'array', items: ref('Alert') },
              next_cursor: { type: ['string', 'null'] },
              ...CLUSTER_PARTIAL,
            },
          }),
          '400': errResp('Bad filter'),
          ...authErrors,
        },
      },
    },
    '/alerts/{id}': {
      get: {
        summary: 'One alert',
        tags: ['Alerts'],
        parameters: idParam,
        responses: {
          '200': jsonResp('The alert', ref('Alert')),
          ...authErrors,
          '404': errResp('No such alert'),
          '503': errResp('On a cluster node, E_CLUSTER_PARTIAL: the alert is on none of the nodes that answered'),
        },
      },
    },
    '/alerts/{id}/snapshot.jpg': {
      get: {
        summary: 'The frame that raised the alert (JPEG, whole frame)',
        tags: ['Alerts'],
        parameters: idParam,
        responses: {
          '200': { description: 'JPEG', content: { 'image/jpeg': { schema: { type: 'string', format: 'binary' } } } },
          ...authErrors,
          '404': errResp('No such alert, or no snapshot of it'),
        },
      },
    },
    '/cameras/{id}/latest.jpg': {
      get: {
        summary: "The camera's newest analysed frame (JPEG, at most 960 px wide); x-frame-age-ms gives its age (web console, src/console/)",
        tags: ['Cameras'],
        parameters: idParam,
        responses: {
          '200': { description: 'JPEG', content: { 'image/jpeg': { schema: { type: 'string', format: 'binary' } } } },
          ...authErrors,
          '404': errResp('No such camera, or it has given no frame yet (E_NO_FRAME)'),
        },
      },
    },
    '/console/rules/replay': {
      post: {
        summary: "What rules would have fired on a camera's stored detections (the replay of `vigil rules test`; nothing is saved)",
        tags: ['Rules'],
        requestBody: jsonBody({
          type: 'object',
          required: ['rules', 'camera_id'],
          additionalProperties: false,
          properties: { rules: { type: 'array', items: { type: 'object' } }, camera_id: { type: 'string' }, start_time: { type: 'string', description: 'ISO 8601 or ns; default end_time - 1 h' }, end_time: { type: 'string', description: 'ISO 8601 or ns; default now' } },
        }),
        responses: {
          '200': {
            description: 'Replay result',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    frames: { type: 'integer' },
                    detections: { type: 'integer' },
                    raised_by_rule: { type: 'object', additionalProperties: { type: 'integer' } },
                    tripwire_counts: { type: 'object' },
                    events: { type: 'array', items: { type: 'object' } },
                  },
                },
              },
            },
          },
          '400': errResp('Invalid rules or body'),
          ...authErrors,
        },
      },
    },
    '/tracks': {
      get: {
        summary: "A camera's stored tracks overlapping a time span, newest first, with snapshot and clip links (web console's track timeline)",
        tags: ['Search'],
        parameters: [
          { name: 'camera_id', in: 'query', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } },
          { name: 'start_time', in: 'query', schema: { type: 'string' }, description: 'ISO 8601 or ns; tracks that ended before it are left out' },
          { name: 'end_time', in: 'query', schema: { type: 'string' }, description: 'ISO 8601 or ns; tracks that started after it are left out' },
          { name: 'class', in: 'query', schema: { type: 'string' }, description: 'Comma-separated class names' },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
        ],
        responses: {
          '200': jsonResp('Tracks, newest first; truncated when the scan bound (20000 tracks) was reached first', {
            type: 'object',
            required: ['tracks', 'truncated'],
            properties: {
              tracks: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['camera_id', 'track_id', 'class_name', 'start_time', 'start_time_ns', 'end_time', 'end_time_ns', 'best_confidence', 'links'],
                  properties: {
                    camera_id: { type: 'string' },
                    track_id: { type: 'integer' },
                    class_name: { type: 'string' },
                    start_time: { type: 'string', format: 'date-time' },
                    start_time_ns: { type: 'string' },
                    end_time: { type: ['string', 'null'], format: 'date-time', description: 'null while the track lasts' },
                    end_time_ns: { type: ['string', 'null'] },
                    best_confidence: { type: 'number' },
                    links: { type: 'object', properties: { snapshot: { type: 'string' }, clip: { type: 'string' } } },
                  },
                },
              },
              truncated: { type: 'boolean' },
            },
          }),
          '400': errResp('Missing or malformed camera_id, times, class or limit'),
          ...authErrors,
          '503': errResp('No detection store on this server'),
        },
      },
    },
    '/tracks/{ref}/snapshot.jpg': {
      get: {
        summary: "A track's best frame (highest score): live while the track lasts, stored after it ended",
        tags: ['Search'],
        parameters: [
          { name: 'ref', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}:[0-9]{1,10}$' }, description: '"<camera>:<track id>"' },
          { name: 'crop', in: 'query', schema: { type: 'boolean', default: false }, description: 'The object with a 15 % margin instead of the whole frame' },
        ],
        responses: {
          '200': { description: 'JPEG', content: { 'image/jpeg': { schema: { type: 'string', format: 'binary' } } } },
          '400': errResp('Malformed track reference or crop value'),
          ...authErrors,
          '404': errResp('No snapshot of that track'),
        },
      },
    },
    '/users': {
      get: {
        summary: 'Local users (admin)',
        tags: ['Users'],
        responses: {
          '200': jsonResp('Users', {
            type: 'object',
            required: ['users'],
            additionalProperties: false,
            properties: { users: { type: 'array', items: ref('LocalUser') } },
          }),
          ...authErrors,
        },
      },
      post: {
        summary: 'Create a local user (admin)',
        description:
          'The new user\'s cameras must lie within the caller\'s own scope (403 E_FORBIDDEN_CAMERA otherwise); without ' +
          '`cameras` the user gets the caller\'s scope. A camera-scoped admin lists only users within its scope.',
        tags: ['Users'],
        requestBody: jsonBody(ref('NewUser')),
        responses: {
          '201': jsonResp('Created', ref('LocalUser')),
          '400': errResp('Invalid user'),
          '409': errResp('User exists'),
          ...authErrors,
        },
      },
    },
    '/users/{username}': {
      patch: {
        summary: 'Change a local user\'s role, cameras, e-mail or disabled flag (admin)',
        description:
          'Users outside the caller\'s scope answer 404. A change of role or cameras, or disabling, ends the user\'s ' +
          'sessions (their tokens and open streams). The last enabled admin with all cameras cannot be demoted, ' +
          'narrowed or disabled (409 E_LAST_ADMIN).',
        tags: ['Users'],
        parameters: [usernameParam],
        requestBody: jsonBody(ref('UserChanges')),
        responses: {
          '200': jsonResp('Changed', ref('LocalUser')),
          '400': errResp('Invalid change'),
          ...authErrors,
          '404': errResp('No such user (or outside the caller\'s scope)'),
          '409': errResp('It is the last enabled admin with all cameras'),
        },
      },
      delete: {
        summary: 'Delete a local user (admin); its sessions end',
        tags: ['Users'],
        parameters: [usernameParam],
        responses: {
          '204': { description: 'Deleted' },
          ...authErrors,
          '404': errResp('No such user (or outside the caller\'s scope)'),
          '409': errResp('It is the last enabled admin with all cameras'),
        },
      },
    },
    '/users/{username}/password': {
      post: {
        summary: 'Set a local user\'s password: one\'s own (any role, with current_password) or another\'s (admin)',
        description: 'Every other session of the user ends; a self-service change keeps the caller\'s own session.',
        tags: ['Users'],
        parameters: [usernameParam],
        requestBody: jsonBody(ref('PasswordChange')),
        responses: {
          '204': { description: 'Changed' },
          '400': errResp('Invalid new password, or current_password missing on a self-service change'),
          '401': errResp('Missing, invalid, expired or revoked access token'),
          '403': errResp('Wrong current password (E_AUTH_BAD_CREDENTIALS), or not an admin changing another user'),
          '404': errResp('No such user (or outside the caller\'s scope)'),
        },
      },
    },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics (admin, operator)',
        tags: ['System'],
        responses: {
          '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } },
          ...authErrors,
        },
      },
    },
    '/openapi.json': {
      get: {
        summary: 'This document',
        tags: ['System'],
        security: [],
        responses: { '200': jsonResp('OpenAPI 3.1 document', { type: 'object' }) },
      },
    },
  },
  components: {
    securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    schemas: {
      Error: {
        type: 'object',
        required: ['error'],
        additionalProperties: false,
        properties: {
          error: {
            type: 'object',
            required: ['code', 'message'],
            additionalProperties: false,
            properties: { code: { type: 'string', pattern: '^E_[A-Z0-9_]+$' }, message: { type: 'string' } },
          },
        },
      },
      HealthStatus: {
        type: 'object',
        required: ['status', 'timestamp'],
        additionalProperties: false,
        properties: {
          status: { type: 'string', enum: ['healthy', 'degraded', 'unhealthy'] },
          timestamp: { type: 'string', format: 'date-time' },
          services: {
            type: 'object',
            additionalProperties: {
              type: 'object',
              required: ['status', 'response_time'],
              additionalProperties: false,
              properties: {
                status: { type: 'string', enum: ['ok', 'degraded', 'down'] },
                response_time: { type: 'number', minimum: 0, description: 'milliseconds' },
                detail: { type: 'string' },
              },
            },
          },
        },
      },
      LoginRequest: {
        type: 'object',
        required: ['username', 'password'],
        additionalProperties: false,
        properties: {
          username: { type: 'string', minLength: 1, maxLength: 256 },
          password: { type: 'string', minLength: 1, maxLength: 1024 },
        },
      },
      RefreshRequest: {
        type: 'object',
        required: ['refresh_token'],
        additionalProperties: false,
        properties: { refresh_token: { type: 'string', minLength: 1, maxLength: 4096 } },
      },
      TokenPair: {
        type: 'object',
        required: ['access_token', 'refresh_token', 'token_type', 'expires_in', 'refresh_expires_in'],
        additionalProperties: false,
        properties: {
          access_token: { type: 'string' },
          refresh_token: { type: 'string' },
          token_type: { const: 'Bearer' },
          expires_in: { type: 'integer', description: 'seconds' },
          refresh_expires_in: { type: 'integer', description: 'seconds' },
        },
      },
      LoginResponse: {
        type: 'object',
        required: ['access_token', 'refresh_token', 'token_type', 'expires_in', 'refresh_expires_in', 'user'],
        additionalProperties: false,
        properties: {
          access_token: { type: 'string' },
          refresh_token: { type: 'string' },
          token_type: { const: 'Bearer' },
          expires_in: { type: 'integer' },
          refresh_expires_in: { type: 'integer' },
          user: ref('User'),
        },
      },
      CameraScope: {
        oneOf: [{ const: '*' }, { type: 'array', items: { type: 'string' } }],
      },
      User: {
        type: 'object',
        required: ['id', 'username', 'roles', 'cameras', 'source'],
        additionalProperties: false,
        properties: {
          id: { type: 'string' },
          username: { type: 'string' },
          email: { type: 'string', format: 'email', description: 'When known' },
          roles: { type: 'array', items: { enum: ['admin', 'operator', 'viewer'] } },
          cameras: ref('CameraScope'),
          source: { enum: ['local', 'ldap', 'saml'] },
        },
      },
      LocalUser: {
        type: 'object',
        required: ['username', 'role', 'cameras', 'disabled', 'created'],
        additionalProperties: false,
        properties: {
          username: { type: 'string' },
          role: { enum: ['admin', 'operator', 'viewer'] },
          cameras: ref('CameraScope'),
          email: { type: 'string', format: 'email' },
          disabled: { type: 'boolean' },
          created: { type: 'string', format: 'date-time' },
        },
      },
      UserChanges: {
        type: 'object',
        additionalProperties: false,
        properties: {
          role: { enum: ['admin', 'operator', 'viewer'] },
          cameras: ref('CameraScope'),
          email: { type: ['string', 'null'], format: 'email', description: 'null removes it' },
          disabled: { type: 'boolean' },
        },
      },
      PasswordChange: {
        type: 'object',
        required: ['new_password'],
        additionalProperties: false,
        properties: {
          current_password: { type: 'string', description: 'Required when changing one\'s own password' },
          new_password: { type: 'string', minLength: 8, maxLength: 1024 },
        },
      },
      NewUser: {
        type: 'object',
        required: ['username', 'password', 'role'],
        additionalProperties: false,
        properties: {
          username: { type: 'string', pattern: '^[A-Za-z0-9._@-]{3,50}$' },
          password: { type: 'string', minLength: 8, maxLength: 1024 },
          role: { enum: ['admin', 'operator', 'viewer'] },
          cameras: ref('CameraScope'),
          email: { type: 'string', format: 'email' },
        },
      },
      Camera: {
        type: 'object',
        required: ['id', 'name', 'location', 'status', 'state', 'stream_url', 'source', 'width', 'height', 'fps', 'last_seen', 'last_error', 'origin', 'detection'],
        additionalProperties: false,
        properties: {
          id: { type: 'string' },
          name: { type: 'string' },
          location: { type: ['string', 'null'] },
          status: { enum: ['active', 'inactive', 'error'], description: 'active = starting|running; error = stalled|reconnecting|failed; inactive = stopped' },
          state: { enum: ['starting', 'running', 'stalled', 'reconnecting', 'stopped', 'failed'] },
          stream_url: { type: 'string', format: 'uri', description: 'The source as a URI, credentials replaced by ***' },
          source: { type: 'string', description: 'Source URL with credentials removed' },
          width: { type: ['integer', 'null'], description: 'Decoded width from the negotiated caps; null before the first frame' },
          height: { type: ['integer', 'null'] },
          fps: { type: ['number', 'null'] },
          last_seen: { type: ['string', 'null'], format: 'date-time', description: 'When the last frame arrived' },
          last_error: { type: ['string', 'null'] },
          origin: { enum: ['config', 'api', 'vms'], description: 'Where the camera is defined; only api cameras change over the API' },
          detection: { type: 'boolean', description: 'Whether frames go on to detection (switched at run time over MQTT)' },
          node: { type: ['string', 'null'], description: 'Cluster nodes only: the node holding the camera lease (null: not running anywhere)' },
          fence: { type: ['integer', 'null'], description: 'Cluster nodes only: the fencing token of the lease' },
          lease_age_ms: { type: ['integer', 'null'], description: 'Cluster nodes only: ms since the owner last wrote the lease' },
          live: { type: 'boolean', description: 'Cluster nodes only: false when the owner did not answer (the state is the configuration one)' },
        },
      },
      CameraDefinition: {
        type: 'object',
        required: ['id'],
        description: 'A camera mapping as under cameras: in the config file (README, Configuration)',
        properties: {
          id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
          name: { type: 'string', minLength: 1, maxLength: 200 },
          location: { type: 'string', minLength: 1, maxLength: 200 },
          source: { type: 'object' },
          inputs: { type: 'array' },
        },
      },
      Detection: {
        type: 'object',
        required: [
          'id',
          'camera_id',
          'timestamp',
          'timestamp_ns',
          'type',
          'class_id',
          'confidence',
          'bounding_box',
          'track_id',
          'frame_width',
          'frame_height',
        ],
        additionalProperties: false,
        properties: {
          id: { type: 'string', description: 'Server-wide sequence number (decimal)' },
          camera_id: { type: 'string' },
          timestamp: { type: 'string', format: 'date-time' },
          timestamp_ns: { type: 'string', pattern: '^[0-9]+$', description: 'ns since the epoch (decimal, exact)' },
          type: { type: 'string', description: 'Class name' },
          class_id: { type: 'integer', minimum: 0 },
          confidence: { type: 'number', minimum: 0, maximum: 1 },
          bounding_box: {
            type: 'object',
            required: ['x', 'y', 'width', 'height'],
            additionalProperties: false,
            description: 'Source-frame pixels: top-left corner and size',
            properties: {
              x: { type: 'number' },
              y: { type: 'number' },
              width: { type: 'number', minimum: 0 },
              height: { type: 'number', minimum: 0 },
            },
          },
          track_id: { type: ['integer', 'null'] },
          frame_width: { type: 'integer' },
          frame_height: { type: 'integer' },
        },
      },
      DetectionList: {
        type: 'object',
        required: ['detections', 'total', 'page', 'page_size'],
        additionalProperties: false,
        properties: {
          detections: { type: 'array', items: ref('Detection') },
          total: { type: 'integer', minimum: 0 },
          page: { type: 'integer', minimum: 1 },
          page_size: { type: 'integer', minimum: 1 },
        },
      },
      SearchRequest: {
        type: 'object',
        additionalProperties: false,
        properties: {
          track_id: { type: 'integer', description: 'Example: a stored track (with camera_id)' },
          camera_id: { type: 'string' },
          vector: { type: 'array', items: { type: 'number' }, description: 'Example: an embedding (the index dimensions)' },
          k: { type: 'integer', minimum: 1, maximum: 100, default: 10 },
          cameras: { type: 'array', items: { type: 'string', minLength: 1 } },
          start_time: { type: ['string', 'integer'], description: 'RFC 3339 date-time or integer ns (inclusive)' },
          end_time: { type: ['string', 'integer'], description: 'As start_time (inclusive)' },
          class: { type: 'string', minLength: 1 },
        },
        oneOf: [{ required: ['track_id', 'camera_id'] }, { required: ['vector'] }],
      },
      SearchHit: {
        type: 'object',
        required: ['track_id', 'camera_id', 'class_id', 'class_name', 'timestamp_ns', 'timestamp', 'score', 'snapshot_url'],
        additionalProperties: false,
        properties: {
          track_id: { type: 'integer' },
          camera_id: { type: 'string' },
          class_id: { type: 'integer', minimum: 0 },
          class_name: { type: 'string' },
          timestamp_ns: { type: 'string', pattern: '^[0-9]+$', description: 'Time of the embedded crop, ns since the epoch' },
          timestamp: { type: 'string', format: 'date-time' },
          score: { type: 'number', minimum: -1.001, maximum: 1.001, description: 'Cosine similarity (1 = same direction)' },
          snapshot_url: { type: 'string' },
        },
      },
      Alert: {
        type: 'object',
        required: ['alertId', 'ruleId', 'ruleName', 'cameraId', 'state', 'message', 'trackIds', 'raisedNs', 'updatedNs', 'clearedNs', 'acknowledgedBy', 'details', 'links'],
        additionalProperties: false,
        properties: {
          alertId: { type: 'string' },
          ruleId: { type: 'string' },
          ruleName: { type: 'string' },
          cameraId: { type: 'string' },
          state: { type: 'string', enum: ['raised', 'updated', 'cleared', 'acknowledged'] },
          message: { type: 'string' },
          trackIds: { type: 'array', items: { type: 'integer' } },
          raisedNs: { type: 'string', pattern: '^[0-9]+$', description: 'ns since the Unix epoch, decimal' },
          updatedNs: { type: 'string', pattern: '^[0-9]+$' },
          clearedNs: { type: ['string', 'null'], pattern: '^[0-9]+$' },
          acknowledgedBy: { type: ['string', 'null'] },
          details: { type: 'object', description: 'Rule-kind specific (direction, count, dwell seconds...)' },
          links: {
            type: 'object',
            required: ['snapshot', 'clip'],
            additionalProperties: false,
            properties: { snapshot: { type: 'string' }, clip: { type: 'string' } },
          },
        },
      },
      SearchResults: {
        type: 'object',
        required: ['k', 'results'],
        additionalProperties: false,
        properties: {
          k: { type: 'integer', minimum: 1, maximum: 100 },
          results: { type: 'array', items: ref('SearchHit') },
          ...CLUSTER_PARTIAL,
        },
      },
    },
  },
} as const;

export const openApiJson = JSON.stringify(openApiDocument);
