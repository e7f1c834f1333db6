/** Plane geometry for zones and tripwires, in source-frame pixels (y grows downwards). */
export type Pt = readonly [number, number];

/** Even-odd ray casting; points exactly on an edge may fall either way. `poly` is a flat [x0, y0, x1, y1, ...]. */
export function pointInPolygon(x: number, y: number, poly: Float64Array): boolean {
  let inside = false;
  const n = poly.length >> 1;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const xi = poly[2 * i]!;
    const yi = poly[2 * i + 1]!;
    const xj = poly[2 * j]!;
    const yj = poly[2 * j + 1]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/**
 * Which side of the directed line a→b the point is on: < 0 on the left as seen on screen (y down) — side A of a
 * tripwire — > 0 on the right (side B), 0 on the line.
 */
export function side(ax: number, ay: number, bx: number, by: number, px: number, py: number): number {
  return (bx - ax) * (py - ay) - (by - ay) * (px - ax);
}

/** Whether segment p→q crosses the segment a–b (proper crossing or touching it). */
export function segmentsIntersect(ax: number, ay: number, bx: number, by: number, px: number, py: number, qx: number, qy: number): boolean {
  const d1 = side(ax, ay, bx, by, px, py);
  const d2 = side(ax, ay, bx, by, qx, qy);
  const d3 = side(px, py, qx, qy, ax, ay);
  const d4 = side(px, py, qx, qy, bx, by);
  return ((d1 <= 0 && d2 >= 0) || (d1 >= 0 && d2 <= 0)) && ((d3 <= 0 && d4 >= 0) || (d3 >= 0 && d4 <= 0));
}
