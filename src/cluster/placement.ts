/**
 * Where cameras should run: pure functions over one node's view of the cluster, so every node computes the same
 * targets from the same members and the decisions are testable without a broker. What actually changes hands is
 * settled by compare-and-set on the lease keys (src/cluster/leases.ts); placement only decides what to *try*.
 *
 * - Targets: cameras split across live, non-draining nodes in proportion to capacity (largest remainder, ties by
 *   node id), never above a node's capacity.
 * - Claims: a free camera goes first to its rendezvous-hash favourite among the nodes below target; the others
 *   wait `fallbackMs` before trying it too (the favourite may be slow or gone). No thundering herd on a failover.
 * - Hand-offs (hysteresis): a node gives a camera away only when it is above its target *and* some node has two
 *   cameras fewer than it and is below its own target, at most one per rebalance interval, and only a camera it
 *   has held for `minHoldMs`. A joining node thus takes its share over a few intervals and nothing oscillates.
 */
import { createHash } from 'node:crypto';

export interface MemberView {
  node: string;
  capacity: number;
  draining: boolean;
  /** Cameras whose live leases name this node. */
  owned: number;
}

export interface LeaseView {
  node: string;
  /** false: the lease is still valid (it may still be running there). */
  expired: boolean;
}

export interface PlacementInput {
  me: string;
  /** Live members (heartbeat seen recently), this node included while it is live. */
  members: readonly MemberView[];
  /** Every camera of the cluster. */
  cameras: readonly string[];
  /** Current leases by camera (absent: never claimed or released). */
  leases: ReadonlyMap<string, LeaseView>;
  /** How long each free camera has been free, as seen here (ms). */
  freeForMs: (camera: string) => number;
  /** How long this node has held each of its cameras (ms). */
  heldForMs: (camera: string) => number;
  fallbackMs: number;
  minHoldMs: number;
  /** May this node hand a camera off now (rebalance interval elapsed)? */
  mayHandOff: boolean;
}

export interface PlacementDecision {
  claim: string[];
  release: string[];
  targets: Map<string, number>;
}

/** Cameras per node, in proportion to capacity; nodes draining get 0. Deterministic for a given input. */
export function targets(members: readonly MemberView[], cameraCount: number): Map<string, number> {
  const active = members.filter((m) => !m.draining).sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  const out = new Map<string, number>(members.map((m) => [m.node, 0]));
  const totalCap = active.reduce((s, m) => s + m.capacity, 0);
  if (totalCap === 0 || cameraCount === 0) return out;
  const n = Math.min(cameraCount, totalCap);
  const exact = active.map((m) => (n * m.capacity) / totalCap);
  const base = exact.map((x, i) => Math.min(Math.floor(x), active[i]!.capacity));
  let left = n - base.reduce((s, x) => s + x, 0);
  const order = active.map((_, i) => i).sort((a, b) => exact[b]! - base[b]! - (exact[a]! - base[a]!) || (active[a]!.node < active[b]!.node ? -1 : 1));
  while (left > 0) {
    let gave = false;
    for (const i of order) {
      if (left === 0) break;
      if (base[i]! < active[i]!.capacity) {
        base[i]!++;
        left--;
        gave = true;
      }
    }
    if (!gave) break;
  }
  active.forEach((m, i) => out.set(m.node, base[i]!));
  return out;
}

/** Rendezvous (highest random weight) score of a camera on a node. */
export function hrw(camera: string, node: string): number {
  return createHash('sha1').update(camera).update('\0').update(node).digest().readUInt32BE(0);
}

export function place(input: PlacementInput): PlacementDecision {
  const { me, members, cameras, leases } = input;
  const t = targets(members, cameras.length);
  const self = members.find((m) => m.node === me);
  const mine = cameras.filter((c) => leases.get(c)?.node === me && !leases.get(c)!.expired);
  const claim: string[] = [];
  const release: string[] = [];
  if (!self || self.draining) return { claim, release: self?.draining ? mine : [], targets: t };
  const myTarget = t.get(me) ?? 0;
  const deficit = (m: MemberView): number => (t.get(m.node) ?? 0) - m.owned;
  if (mine.length < myTarget) {
    const free = cameras.filter((c) => {
      const l = leases.get(c);
      return !l || l.expired;
    });
    const below = members.filter((m) => !m.draining && deficit(m) > 0);
    const ranked = free
      .map((c) => {
        let best = me;
        let bestScore = -1;
        for (const m of below) {
          const s = hrw(c, m.node);
          if (s > bestScore) {
            bestScore = s;
            best = m.node;
          }
        }
        return { c, favourite: best === me, mine: hrw(c, me) };
      })
      .filter((x) => x.favourite || input.freeForMs(x.c) >= input.fallbackMs)
      .sort((a, b) => Number(b.favourite) - Number(a.favourite) || b.mine - a.mine);
    for (const x of ranked.slice(0, myTarget - mine.length)) claim.push(x.c);
  } else if (mine.length > myTarget && input.mayHandOff) {
    const taker = members.some((m) => m.node !== me && !m.draining && deficit(m) > 0 && m.owned <= mine.length - 2);
    if (taker) {
      const candidate = mine
        .filter((c) => input.heldForMs(c) >= input.minHoldMs)
        .sort((a, b) => hrw(a, me) - hrw(b, me))[0];
      if (candidate) release.push(candidate);
    }
  }
  return { claim, release, targets: t };
}
