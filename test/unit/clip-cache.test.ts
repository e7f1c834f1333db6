/**
 * The clip cache behind GET /events/{id}/clip (src/api/clip-cache.ts): one cut per key however many requests (a
 * browser's Range requests all read the same file), concurrent requests share the cut, a failed cut is not kept,
 * the oldest clip leaves first past maxClips and its file goes after the grace period, close removes the rest.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { ClipCache } from '../../src/api/clip-cache.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('one cut per key, shared by concurrent requests; failures not kept; oldest evicted past maxClips; close removes files', async () => {
  const cache = new ClipCache({ maxClips: 2, graceMs: 20, ttlMs: 60_000 });
  let cuts = 0;
  const make = (body: string) => async (out: string) => {
    cuts++;
    await sleep(20);
    writeFileSync(out, body);
  };
  const [a1, a2] = await Promise.all([cache.get('a', make('A')), cache.get('a', make('other'))]);
  assert.equal(a1, a2);
  assert.equal(readFileSync(a1, 'utf8'), 'A');
  assert.equal(await cache.get('a', make('again')), a1);
  assert.equal(cuts, 1);
  assert.deepEqual(cache.stats, { hits: 2, cuts: 1, size: 1 });

  await assert.rejects(cache.get('bad', async () => {
    throw new Error('no footage');
  }), { message: 'no footage' });
  assert.deepEqual(cache.stats, { hits: 2, cuts: 2, size: 1 });

  await sleep(5);
  const b = await cache.get('b', make('B'));
  await sleep(5);
  const c = await cache.get('c', make('C')); // a is the least recently used of three: it leaves
  assert.deepEqual(cache.stats, { hits: 2, cuts: 4, size: 2 });
  assert.equal(existsSync(a1), true, 'kept for the grace period (a response may still be reading it)');
  await sleep(60);
  assert.equal(existsSync(a1), false);
  const a3 = await cache.get('a', make('A2')); // cut again; now b is the oldest and leaves
  assert.notEqual(a3, a1);
  assert.equal(readFileSync(a3, 'utf8'), 'A2');
  cache.close();
  assert.equal(existsSync(a3), false);
  assert.equal(existsSync(c), false);
  assert.deepEqual(cache.stats, { hits: 2, cuts: 5, size: 0 });
  await sleep(60);
  assert.equal(existsSync(b), false);
});
