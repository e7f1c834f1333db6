/**
 * Operations on a running cluster, from any process that reaches its NATS servers: `vigil cluster status` and
 * `vigil cluster drain NODE` (src/cli.ts), and the `/cluster/*` routes (src/cluster/routes.ts).
 */
import { decodeJson, encodeJson } from './codec.js';
import type { LeaseValue, MemberValue } from './coordinator.js';
import { gather } from './gather.js';
import type { ClusterBackend } from './nats.js';

export interface NodeLiveStatus {
  incarnation: string;
  draining: boolean;
  cameras: Array<{ id: string; fence: number; state: string; fps: number; heldForMs: number }>;
  load: MemberValue['load'];
  stats: Record<string, number>;
}

export interface ClusterStatus {
  nodes: Array<{
    node: string;
    draining: boolean;
    capacity: number;
    apiUrl: string | null;
    cameras: number;
    load: MemberValue['load'];
    /** ms since the node's last heartbeat, by its own clock vs this one (informational). */
    heartbeatAgeMs: number;
  }>;
  cameras: Array<{ id: string; node: string | null; fence: number | null; leaseAgeMs: number | null; state: string | null }>;
  /** Live state came from every node listed: false; true when some did not answer in time (`missing`). */
  partial: boolean;
  missing: string[];
}

async function entries<T>(kv: ClusterBackend['members'], prefix = ''): Promise<Map<string, { value: T; revision: number }>> {
  const out = new Map<string, { value: T; revision: number }>();
  const keys: string[] = [];
  for await (const k of await kv.keys()) if (k.startsWith(prefix)) keys.push(k);
  for (const k of keys) {
    const e = await kv.get(k);
    if (e && e.operation === 'PUT') out.set(k, { value: decodeJson<T>(e.value), revision: e.revision });
  }
  return out;
}

/** Members, leases, camera list and (scatter-gather) each node's live camera states. */
export async function clusterStatus(b: ClusterBackend, timeoutMs: number): Promise<ClusterStatus> {
  const now = Date.now();
  const [members, leases, config] = await Promise.all([
    entries<MemberValue>(b.members),
    entries<LeaseValue>(b.leases),
    entries<unknown>(b.config, 'camera.'),
  ]);
  const nodes = [...members.values()].map((m) => m.value).sort((a, b2) => (a.node < b2.node ? -1 : 1));
  const live = await gather<NodeLiveStatus>(b, 'status', null, nodes.map((n) => n.node), timeoutMs);
  const state = new Map<string, string>();
  for (const r of live.replies) for (const c of r.data.cameras) state.set(c.id, c.state);
  const ids = new Set([...config.keys()].map((k) => k.slice('camera.'.length)));
  for (const k of leases.keys()) ids.add(k);
  return {
    nodes: nodes.map((n) => ({
      node: n.node,
      draining: n.draining,
      capacity: n.capacity,
      apiUrl: n.apiUrl,
      cameras: n.cameras.length,
      load: n.load,
      heartbeatAgeMs: Math.max(0, now - n.at),
    })),
    cameras: [...ids].sort().map((id) => {
      const l = leases.get(id);
      return {
        id,
        node: l?.value.node ?? null,
        fence: l ? (l.value.fence ?? l.revision) : null,
        leaseAgeMs: l ? Math.max(0, now - l.value.at) : null,
        state: state.get(id) ?? null,
      };
    }),
    partial: live.partial,
    missing: live.missing,
  };
}

/** Asks NODE to hand every camera to the others (it stays a member, with no cameras). `on: false` lifts it. */
export async function drainNode(b: ClusterBackend, node: string, on = true): Promise<void> {
  if (on) await b.control.put(`drain.${node}`, encodeJson({ at: Date.now() }));
  else await b.control.delete(`drain.${node}`);
}

export function formatStatus(s: ClusterStatus): string[] {
  const lines = ['NODE            CAMERAS  CAPACITY  DRAINING  HEARTBEAT  CPU%   RSS MB'];
  for (const n of s.nodes) {
    lines.push(
      `${n.node.padEnd(15)} ${String(n.cameras).padStart(7)}  ${String(n.capacity).padStart(8)}  ${(n.draining ? 'yes' : 'no').padEnd(8)}  ${`${(n.heartbeatAgeMs / 1000).toFixed(1)} s`.padStart(9)}  ${n.load.cpuPct.toFixed(0).padStart(4)}  ${n.load.rssMb.toFixed(0).padStart(6)}`,
    );
  }
  lines.push('', 'CAMERA          NODE            FENCE   LEASE AGE  STATE');
  for (const c of s.cameras) {
    lines.push(
      `${c.id.padEnd(15)} ${(c.node ?? '-').padEnd(15)} ${String(c.fence ?? '-').padStart(5)}  ${c.leaseAgeMs === null ? '        -' : `${(c.leaseAgeMs / 1000).toFixed(1)} s`.padStart(9)}  ${c.state ?? '-'}`,
    );
  }
  if (s.partial) lines.push('', `partial: no live state from ${s.missing.join(', ')}`);
  return lines;
}
