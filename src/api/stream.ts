/**
 * The WebSocket event stream `/ws` (src/stream/hub.ts) as a transport endpoint: the access token comes from the
 * Authorization header or the `bearer.<token>` sub-protocol, is verified synchronously and authorized for
 * `stream:subscribe`; each user has at most `maxConnectionsPerUser` open sockets. The sockets live within their
 * session (hub.useSessions): closed with 4001 at the token's expiry, at logout and at revocation.
 */
import { authorize, type Principal } from '../auth/policy.js';
import type { AuthService } from '../auth/service.js';
import { bearerToken, errorReply, type WsEndpoint } from '../http/index.js';
import { MAX_CONTROL_BYTES } from '../stream/control.js';
import type { StreamClient, StreamHub, StreamSocket } from '../stream/hub.js';

/**
 * The transport's own frame limit. Frames up to it reach the hub, which closes the socket with 1009 and a reason
 * for anything over MAX_CONTROL_BYTES; past it uWS drops the connection itself (so this is well above any control
 * message, and small enough that a socket never holds much for an unfinished frame).
 */
export const WS_MAX_FRAME_BYTES = 1024 * 1024;

export const WS_PROTOCOL = 'vigil.v1';
export const WS_BEARER_PREFIX = 'bearer.';

interface WsData {
  principal: Principal;
  client: StreamClient | null;
}

export function streamEndpoint(
  hub: StreamHub,
  auth: Pick<AuthService, 'verifyAccessSync'> & Partial<Pick<AuthService, 'sessionLive' | 'onSessionsRevoked'>>,
  o: { idleTimeoutS?: number; maxConnectionsPerUser?: number } = {},
): WsEndpoint<WsData> {
  const maxPerUser = o.maxConnectionsPerUser ?? 64;
  if (auth.sessionLive && auth.onSessionsRevoked) {
    const { sessionLive, onSessionsRevoked } = auth as Pick<AuthService, 'sessionLive' | 'onSessionsRevoked'>;
    hub.useSessions({
      live: (p) => sessionLive.call(auth, p.family),
      verify: (token) => auth.verifyAccessSync(token),
      onRevoked: (l) => onSessionsRevoked.call(auth, l),
    });
  }
  return {
    pattern: '/ws',
    protocol: WS_PROTOCOL,
    maxPayloadLength: Math.max(WS_MAX_FRAME_BYTES, MAX_CONTROL_BYTES),
    // uWS's own cap sits above the hub's, so the hub decides (and counts) every drop.
    maxBackpressure: hub.maxBufferedBytes * 2 + 64 * 1024,
    idleTimeoutS: o.idleTimeoutS ?? 120,
    upgrade: (headers, offered) => {
      const fromProtocol = offered.find((p) => p.startsWith(WS_BEARER_PREFIX))?.slice(WS_BEARER_PREFIX.length);
      let principal: Principal;
      try {
        // Synchronous on purpose: see TokenService.verifyAccessSync (async upgrades lost connections in uWS 20.30).
        principal = auth.verifyAccessSync(bearerToken(headers) ?? fromProtocol);
        authorize(principal, 'stream:subscribe');
      } catch (err) {
        return { refuse: errorReply(err) };
      }
      if (hub.connectionsOf(principal.sub) >= maxPerUser) {
        return { refuse: { status: 429, json: { error: { code: 'E_TOO_MANY_CONNECTIONS', message: `At most ${maxPerUser} stream connections per user` } } } };
      }
      return { data: { principal, client: null } };
    },
    open: (ws) => {
      const data = ws.getUserData();
      data.client = hub.attach(ws as unknown as StreamSocket, data.principal);
    },
    message: (ws, message, isBinary) => {
      const c = ws.getUserData().client;
      if (c) hub.handleMessage(c, message, isBinary);
    },
    drain: (ws) => {
      const c = ws.getUserData().client;
      if (c) hub.drain(c);
    },
    close: (ws) => {
      const c = ws.getUserData().client;
      if (c) hub.detach(c);
    },
  };
}
