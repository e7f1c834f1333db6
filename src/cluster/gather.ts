/**
 * Scatter-gather over NATS request-reply: one request on `<prefix>.q.<what>`, every node's responder answers on
 * the request's inbox, the caller waits for the live nodes it expects (or the per-node timeout, whichever is
 * first) and says which did not answer: `partial: true` with `missing` naming them.
 *
 * What goes through it: what lives on one node only: a camera's live state, fps, counters and a node's load
 * (`vigil cluster status`), alerts (each in the rules store of the node that raised it) and track embeddings
 * (src/cluster/reads.ts: GET /cameras, /alerts, POST /search). Stored detections, tracks and camera status do not:
 * they are replicated into every node's store through the events stream (src/cluster/bridge.ts), so those queries
 * are local reads at local latency (bench/cluster.ts and bench/cluster-rest.ts measure both).
 */
import { createInbox } from '@nats-io/transport-node';
import { decodeJson, encodeJson } from './codec.js';
import type { ClusterBackend } from './nats.js';

export interface Gathered<T> {
  replies: Array<{ node: string; data: T }>;
  partial: boolean;
  /** Expected nodes that did not answer in time. */
  missing: string[];
}

export async function gather<T>(b: ClusterBackend, what: string, request: unknown, expected: readonly string[], timeoutMs: number): Promise<Gathered<T>> {
  const inbox = createInbox();
  const replies = new Map<string, T>();
  const sub = b.nc.subscribe(inbox);
  const want = new Set(expected);
  const timer = setTimeout(() => sub.unsubscribe(), timeoutMs);
  try {
    b.nc.publish(b.names.query(what), encodeJson(request), { reply: inbox });
    for await (const m of sub) {
      const r = decodeJson<{ node: string; data: T }>(m.data);
      replies.set(r.node, r.data);
      want.delete(r.node);
      if (want.size === 0 && expected.length > 0) break;
    }
  } finally {
    clearTimeout(timer);
    sub.unsubscribe();
  }
  const missing = expected.filter((n) => !replies.has(n)).sort();
  return { replies: [...replies].map(([node, data]) => ({ node, data })).sort((a, b2) => (a.node < b2.node ? -1 : 1)), partial: missing.length > 0, missing };
}

/** Answers `<prefix>.q.<what>` on this node. Returns the unsubscribe. `onError`: an answer that failed (not sent). */
export function respond(b: ClusterBackend, nodeId: string, what: string, answer: (request: unknown) => unknown | Promise<unknown>, onError?: (err: unknown) => void): () => void {
  const sub = b.nc.subscribe(b.names.query(what), {
    callback: (err, m) => {
      if (err) return;
      void (async () => {
        try {
          const data = await answer(m.data.length > 0 ? decodeJson<unknown>(m.data) : null);
          m.respond(encodeJson({ node: nodeId, data }));
        } catch (err) {
          // No answer: the caller lists this node as missing.
          onError?.(err);
        }
      })();
    },
  });
  return () => sub.unsubscribe();
}
