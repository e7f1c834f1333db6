/**
 * Placement decisions (pure: no broker) and the `cluster:` config section's validation messages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/index.js';
import { parseClusterOptions } from '../../src/cluster/options.js';
import { decodeJson, encodeJson } from '../../src/cluster/codec.js';
import { place, targets, type LeaseView, type MemberView, type PlacementInput } from '../../src/cluster/placement.js';

const cams = (n: number): string[] => Array.from({ length: n }, (_, i) => `cam-${String(i + 1).padStart(2, '0')}`);

function input(me: string, members: MemberView[], cameras: string[], leases: Map<string, LeaseView>, over: Partial<PlacementInput> = {}): PlacementInput {
  return { me, members, cameras, leases, freeForMs: () => 0, heldForMs: () => 60_000, fallbackMs: 2000, minHoldMs: 10_000, mayHandOff: true, ...over };
}

test('targets: proportional to capacity, capped, deterministic; draining nodes get none', () => {
  const m = (node: string, capacity: number, draining = false): MemberView => ({ node, capacity, draining, owned: 0 });
  assert.deepEqual([...targets([m('a', 4), m('b', 4), m('c', 4)], 6)], [['a', 2], ['b', 2], ['c', 2]]);
  assert.deepEqual([...targets([m('a', 8), m('b', 4), m('c', 4)], 8)], [['a', 4], ['b', 2], ['c', 2]]);
  assert.deepEqual([...targets([m('a', 1), m('b', 16)], 10)], [['a', 1], ['b', 9]]);
  assert.deepEqual([...targets([m('a', 2), m('b', 2)], 10)], [['a', 2], ['b', 2]], 'never above capacity');
  assert.deepEqual([...targets([m('a', 4), m('b', 4, true)], 3)], [['a', 3], ['b', 0]]);
  assert.deepEqual([...targets([m('c', 4), m('a', 4), m('b', 4)], 4)], [['c', 1], ['a', 2], ['b', 1]], 'remainder to the first id');
});

test('claims: each free camera has one favourite; the others wait for the fallback delay', () => {
  const members: MemberView[] = ['a', 'b', 'c'].map((node) => ({ node, capacity: 4, draining: false, owned: 0 }));
  const cameras = cams(6);
  const claims = ['a', 'b', 'c'].map((me) => place(input(me, members, cameras, new Map())).claim);
  // First round: no camera is tried by two nodes, none takes more than its target.
  const first = claims.flat();
  assert.equal(new Set(first).size, first.length, JSON.stringify(claims));
  assert.ok(claims.every((c) => c.length <= 2), JSON.stringify(claims));
  // Second round, past the fallback delay: nodes below target take what the favourites could not.
  const leases = new Map<string, LeaseView>(claims.flatMap((c, i) => c.map((id) => [id, { node: 'abc'[i]!, expired: false }] as const)));
  const owned = members.map((m, i) => ({ ...m, owned: claims[i]!.length }));
  const second = ['a', 'b', 'c'].map((me) => place(input(me, owned, cameras, leases, { freeForMs: () => 5000 })).claim);
  assert.deepEqual([...first, ...second.flat()].sort(), cameras);
});

test('a live lease is never claimed; an expired one is', () => {
  const members: MemberView[] = [
    { node: 'a', capacity: 4, draining: false, owned: 0 },
    { node: 'b', capacity: 4, draining: false, owned: 1 },
  ];
  const live = new Map<string, LeaseView>([['cam-01', { node: 'dead', expired: false }]]);
  assert.deepEqual(place(input('a', members, ['cam-01'], live, { freeForMs: () => 99_999 })).claim, []);
  const expired = new Map<string, LeaseView>([['cam-01', { node: 'dead', expired: true }]]);
  assert.deepEqual(place(input('a', members.slice(0, 1), ['cam-01'], expired, { freeForMs: () => 99_999 })).claim, ['cam-01']);
});

test('hand-off hysteresis: only with a 2-camera gap, past minHold, once per interval; draining gives all', () => {
  const leases = new Map<string, LeaseView>(cams(3).map((c) => [c, { node: 'a', expired: false }]));
  const joined: MemberView[] = [
    { node: 'a', capacity: 4, draining: false, owned: 3 },
    { node: 'b', capacity: 4, draining: false, owned: 0 },
  ];
  assert.equal(place(input('a', joined, cams(3), leases)).release.length, 1);
  assert.deepEqual(place(input('a', joined, cams(3), leases, { mayHandOff: false })).release, []);
  assert.deepEqual(place(input('a', joined, cams(3), leases, { heldForMs: () => 1000 })).release, []);
  // 2 vs 1 of 3 cameras: balanced enough, nothing moves (no flapping between 2/1 and 1/2).
  const nearly = new Map<string, LeaseView>([['cam-01', { node: 'a', expired: false }], ['cam-02', { node: 'a', expired: false }], ['cam-03', { node: 'b', expired: false }]]);
  const m2: MemberView[] = [
    { node: 'a', capacity: 4, draining: false, owned: 2 },
    { node: 'b', capacity: 4, draining: false, owned: 1 },
  ];
  assert.deepEqual(place(input('a', m2, cams(3), nearly)).release, []);
  assert.deepEqual(place(input('b', m2, cams(3), nearly)).claim, []);
  const draining: MemberView[] = [{ ...joined[0]!, draining: true }, joined[1]!];
  assert.deepEqual(place(input('a', draining, cams(3), leases)).release.sort(), cams(3));
});

test('cluster: section validation messages', () => {
  assert.equal(parseClusterOptions(undefined), null);
  assert.equal(parseClusterOptions(false), null);
  const o = parseClusterOptions({ servers: 'nats://127.0.0.1:4222', nodeId: 'n1' })!;
  assert.deepEqual([o.servers, o.nodeId, o.capacity, o.leaseTtlMs, o.safetyMs, o.graceMs, o.replicas, o.prefix], [['nats://127.0.0.1:4222'], 'n1', 16, 10_000, 2000, 1000, 1, 'vigil']);
  assert.throws(() => parseClusterOptions({ nodeId: 'n1' }), { message: 'Expected a NATS URL or a non-empty list of them for cluster.servers but received undefined' });
  assert.throws(() => parseClusterOptions({ servers: ['http://x'], nodeId: 'n1' }), { message: 'Expected a NATS URL such as "nats://127.0.0.1:4222" for cluster.servers[0] but received "http://x"' });
  assert.throws(() => parseClusterOptions({ servers: ['nats://a:1'], nodeId: 'a b' }), { message: 'Expected a node id of letters, digits, "_" or "-" for cluster.nodeId but received "a b"' });
  assert.throws(() => parseClusterOptions({ servers: ['nats://a:1'], nodeId: 'n', leaseTtlS: 2, safetyS: 1 }), { message: 'Expected a number below half of leaseTtlS (1) for cluster.safetyS but received 1' });
  assert.throws(() => parseClusterOptions({ servers: ['nats://a:1'], nodeId: 'n', leases: 1 }), { message: /^Unknown key cluster\.leases \(known keys: servers, nodeId/ });
  // Through the config loader: E_CONFIG with the same message; absent section: a single server.
  assert.throws(() => parseConfig({ cameras: [], cluster: { servers: [], nodeId: 'n' } }), { code: 'E_CONFIG', message: 'Expected a NATS URL or a non-empty list of them for cluster.servers but received an array of length 0' });
  assert.equal(parseConfig({ cameras: [] }).cluster, null);
});

test('wire JSON keeps ns timestamps exact', () => {
  const v = { timestampNs: 1_764_000_000_123_456_789n, seq: 9_007_199_254_740_993n, name: '123', clearedNs: null };
  assert.deepEqual(decodeJson(encodeJson(v)), v);
});
