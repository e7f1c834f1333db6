/**
 * JSON for what nodes exchange over NATS (KV values, stream events, query replies). JSON rather than a binary
 * codec so `nats kv get` / `nats stream view` show something an operator can read; timestamps are bigint ns in
 * Vigil, so bigints travel as decimal strings and come back as bigints for the keys that hold them (names ending
 * in "Ns", and "seq"): exact, where a JSON number would round past 2^53.
 */
const BIGINT_KEY = /Ns$|^seq$/;
const DECIMAL = /^-?\d+$/;

export function encodeJson(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
}

export function decodeJson<T>(data: Uint8Array): T {
  return JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'), (k, v: unknown) =>
    typeof v === 'string' && BIGINT_KEY.test(k) && DECIMAL.test(v) ? BigInt(v) : v,
  ) as T;
}
