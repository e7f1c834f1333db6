/**
 * Classification of IP addresses for the outbound URL policy. Every address that is not globally routable
 * unicast is refused by default: loopback, private, carrier-grade NAT, link-local (cloud metadata lives at
 * 169.254.169.254 and fd00:ec2::254), multicast, unspecified, broadcast, reserved, benchmarking and documentation
 * ranges. IPv6 forms that embed an IPv4 address (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64
 * 64:ff9b::/96, 6to4 2002::/16) are judged by the embedded IPv4 address as well.
 */
import { isIP } from 'node:net';

export interface AddressVerdict {
  allowed: boolean;
  /** Why it is refused, e.g. "loopback"; "public" when allowed. */
  category: string;
}

const V4_RANGES: [string, number, string][] = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (cloud metadata)'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay anycast'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['255.255.255.255', 32, 'broadcast'],
  ['240.0.0.0', 4, 'reserved'],
];

function v4ToInt(a: string): number {
  const p = a.split('.').map(Number);
  return (((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!) >>> 0;
}

const V4_TABLE = V4_RANGES.map(([base, bits, label]) => {
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { base: (v4ToInt(base) & mask) >>> 0, mask, label };
});

/** Parses a canonical IPv6 text form (as `isIP` accepts) into a 128-bit bigint. */
export function v6ToBigInt(a: string): bigint {
  let s = a;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  // A trailing dotted IPv4 part becomes two hextets.
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  if (tail.includes('.')) {
    const n = v4ToInt(tail);
    s = `${s.slice(0, lastColon + 1)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, rest] = s.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const r = rest === undefined ? [] : rest === '' ? [] : rest.split(':');
  const fill = rest === undefined ? 0 : 8 - h.length - r.length;
  const parts = [...h, ...Array<string>(fill).fill('0'), ...r];
  let v = 0n;
  for (const p of parts) v = (v << 16n) | BigInt(parseInt(p, 16));
  return v;
}

function intToV4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

const V6_RANGES: [bigint, number, string][] = [
  [0n, 128, 'unspecified'],
  [1n, 128, 'loopback'],
  [v6ToBigInt('fe80::'), 10, 'link-local'],
  [v6ToBigInt('fec0::'), 10, 'site-local'],
  [v6ToBigInt('fc00::'), 7, 'unique local (private; cloud metadata fd00:ec2::254)'],
  [v6ToBigInt('ff00::'), 8, 'multicast'],
  [v6ToBigInt('100::'), 64, 'discard-only'],
  [v6ToBigInt('2001:db8::'), 32, 'documentation'],
  [v6ToBigInt('2001::'), 23, 'IETF protocol assignments'],
];

const V6_TABLE = V6_RANGES.map(([base, bits, label]) => {
  const mask = bits === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - bits)) - 1n);
  return { base: base & mask, mask, label };
});

/** The IPv4 address embedded in an IPv6 address (mapped, compatible, NAT64, 6to4), or null. */
export function embeddedV4(v: bigint): string | null {
  const top96 = v >> 32n;
  const low32 = Number(v & 0xffffffffn);
  if (top96 === 0xffffn) return intToV4(low32); // ::ffff:a.b.c.d (IPv4-mapped)
  if (top96 === 0n && low32 > 1) return intToV4(low32); // ::a.b.c.d (IPv4-compatible, deprecated)
  if (top96 === 0x64ff9b0000000000000000n) return intToV4(low32); // 64:ff9b::/96 NAT64
  if (v >> 112n === 0x2002n) return intToV4(Number((v >> 80n) & 0xffffffffn)); // 2002:aabb:ccdd::/48 6to4
  return null;
}

/** Judges one IP address (text form). Non-IP input is refused as "not an IP address". */
export function classifyAddress(address: string): AddressVerdict {
  const fam = isIP(address);
  if (fam === 4) {
    const n = v4ToInt(address);
    for (const r of V4_TABLE) if ((n & r.mask) >>> 0 === r.base) return { allowed: false, category: r.label };
    return { allowed: true, category: 'public' };
  }
  if (fam === 6) {
    const v = v6ToBigInt(address);
    const v4 = embeddedV4(v);
    if (v4 !== null) {
      const inner = classifyAddress(v4);
      if (!inner.allowed) return { allowed: false, category: `${inner.category} (IPv4 ${v4} inside IPv6)` };
      if (v >> 32n === 0xffffn) return inner;
    }
    for (const r of V6_TABLE) if ((v & r.mask) === r.base) return { allowed: false, category: r.label };
    return { allowed: true, category: 'public' };
  }
  return { allowed: false, category: 'not an IP address' };
}

/** An address as a 128-bit number in the IPv6 space (IPv4 as ::ffff:a.b.c.d), or null when not an IP address. */
function toV6Number(address: string): bigint | null {
  const fam = isIP(address);
  if (fam === 4) return 0xffff00000000n | BigInt(v4ToInt(address));
  if (fam === 6) return v6ToBigInt(address);
  return null;
}

/**
 * A list of addresses and CIDR ranges ("10.0.0.1", "10.1.0.0/16", "fd00::/8"); IPv4 entries also match their
 * IPv4-mapped IPv6 form (a dual-stack listener reports "::ffff:10.0.0.1"). Bad entries throw with their path.
 */
export class AddressList {
  private readonly ranges: { base: bigint; mask: bigint }[] = [];
  constructor(entries: readonly string[], path: string) {
    entries.forEach((entry, i) => {
      const bad = () => new Error(`Expected an IP address or CIDR range such as "10.0.0.0/8" for ${path}[${i}] but received ${JSON.stringify(entry)}`);
      if (typeof entry !== 'string') throw bad();
      const slash = entry.indexOf('/');
      const addr = slash < 0 ? entry : entry.slice(0, slash);
      const v = toV6Number(addr);
      if (v === null) throw bad();
      const max = isIP(addr) === 4 ? 32 : 128;
      const bitsText = slash < 0 ? String(max) : entry.slice(slash + 1);
      if (!/^\d{1,3}$/.test(bitsText) || Number(bitsText) > max) throw bad();
      const bits = Number(bitsText) + (max === 32 ? 96 : 0);
      const mask = bits === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - bits)) - 1n);
      this.ranges.push({ base: v & mask, mask });
    });
  }
  get size(): number {
    return this.ranges.length;
  }
  has(address: string): boolean {
    const v = toV6Number(address.trim());
    if (v === null) return false;
    return this.ranges.some((r) => (v & r.mask) === r.base);
  }
}

/**
 * The client's address: the peer's, or, when the peer is a trusted proxy, the nearest address in X-Forwarded-For
 * that is not itself a trusted proxy (read right to left: each proxy appends the address it got the request from,
 * so everything left of the first untrusted hop is what the client chose to send). IPv4-mapped IPv6 is shown as IPv4.
 */
export function clientAddress(peer: string, forwardedFor: string | undefined, trusted: AddressList): string {
  const plain = (a: string): string => {
    const t = a.trim();
    const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(t);
    return m ? m[1]! : t;
  };
  let client = plain(peer);
  if (trusted.size === 0 || !trusted.has(client) || forwardedFor === undefined) return client;
  const hops = forwardedFor.split(',').map(plain).filter((h) => h.length > 0);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (isIP(hop) === 0) break; // garbage (or a port-suffixed form): trust nothing further left
    client = hop;
    if (!trusted.has(hop)) break;
  }
  return client;
}
