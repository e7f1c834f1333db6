/** One byte range of a Range header (RFC 9110 14.1.2); several ranges are answered as the whole file. */

/**
 * `bytes=a-b`, `bytes=a-` or `bytes=-n` against a file of `size` bytes: the inclusive range to send, null for
 * "send it all" (another unit, several ranges), or 'unsatisfiable' (416) for a malformed or out-of-file range.
 */
export function parseRange(header: string, size: number): { start: number; end: number } | null | 'unsatisfiable' {
  const m = /^\s*([A-Za-z]+)=(.*)$/.exec(header);
  if (!m) return 'unsatisfiable';
  if (m[1]!.toLowerCase() !== 'bytes') return null;
  const specs = m[2]!.split(',').map((s) => s.trim());
  if (specs.length !== 1) return null;
  const r = /^(\d{0,15})-(\d{0,15})$/.exec(specs[0]!);
  if (!r || (r[1] === '' && r[2] === '')) return 'unsatisfiable';
  if (r[1] === '') {
    const n = Number(r[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(r[1]);
  const end = r[2] === '' ? size - 1 : Math.min(Number(r[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}
