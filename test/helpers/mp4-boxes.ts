/** Reading ISO BMFF (MP4) box structure back in tests: the boxes of a range and a nested box's payload by path. */
import assert from 'node:assert/strict';

/** Child boxes of [start, end) as [type, offset, size]; asserts that they fill the range exactly. */
export function boxes(buf: Uint8Array, start = 0, end = buf.length): Array<[string, number, number]> {
  const out: Array<[string, number, number]> = [];
  const dv = new DataView(buf.buffer, buf.byteOffset);
  let o = start;
  while (o + 8 <= end) {
    const size = dv.getUint32(o);
    out.push([String.fromCharCode(...buf.subarray(o + 4, o + 8)), o, size]);
    o += size;
  }
  assert.equal(o, end, 'boxes fill their parent exactly');
  return out;
}

/**
 * The payload [start, end) of the box at `path` (first match at each level). `skip` names boxes whose children
 * start after a fixed header (e.g. `{ stsd: 8, hvc1: 78 }`).
 */
export function find(buf: Uint8Array, path: string[], skip: Record<string, number> = {}): [number, number] {
  let start = 0;
  let end = buf.length;
  for (const name of path) {
    const b = boxes(buf, start, end).find((x) => x[0] === name);
    assert.ok(b, `box ${name}`);
    start = b[1] + 8 + (skip[name] ?? 0);
    end = b[1] + b[2];
  }
  return [start, end];
}
