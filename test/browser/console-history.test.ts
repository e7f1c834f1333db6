/**
 * The console's history pages in a real browser against a real `vigil serve` (vtest, detection at 5 fps, recorded
 * in 2 s segments, search on):
 * - the events page lists a camera's tracks from the store (GET /tracks) with their snapshots, exactly what the
 *   route answers for the same span; a track's clip plays by URL: the browser fetches it itself with the media
 *   cookie and HTTP Range, seeking to the middle of the clip makes it ask for a range from the middle (206 with the
 *   right Content-Range) and playback lands there;
 * - the search page shows, for a track chosen from the timeline, exactly the hits (ids and order) POST /search
 *   returns for the same query (camera, class and time filters).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Response } from 'playwright-core';
import { media } from '../helpers/media.js';
import { launchBrowser, loginAs, screenshot, startVigil, type Vigil } from './harness.js';

let vigil: Vigil;
let browser: Browser;
let token: string;
const started = new Date();

before(async () => {
  // One after the other: a server that fails to start must not leave a browser behind (and the reverse).
  browser = await launchBrowser();
  vigil = await startVigil([
    'cameras:',
    '  - id: vtest',
    `    source: { kind: file, path: ${media('vtest-h264.mp4')}, loop: true }`,
    '    detectFps: 5',
    '    record: { mode: continuous, segmentSeconds: 2 }',
  ]);
  token = await vigil.token();
});

after(async () => {
  await browser?.close();
  await vigil?.stop();
});

interface TrackJson {
  camera_id: string;
  track_id: number;
  class_name: string;
  start_time: string;
  start_time_ns: string;
  end_time: string | null;
  end_time_ns: string | null;
  best_confidence: number;
  links: { snapshot: string; clip: string };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** `datetime-local` value with seconds, in UTC (the pages run with timezoneId UTC). */
const localUtc = (d: Date): string => d.toISOString().slice(0, 19);

/** Ended person tracks with footage recorded 6 s past their end (their clip is whole). */
/**
 * At least `min` ended person tracks with footage (5 s of recording after each; with `preRollS`, that much before
 * each too, as a clip asks for), and among them one of at least `longestS` seconds.
 */
async function endedTracks(min: number, o: { longestS?: number; preRollS?: number } = {}): Promise<TrackJson[]> {
  const { longestS = 0, preRollS = 0 } = o;
  for (let i = 0; i < 120; i++) {
    const all = (await vigil.api<{ tracks: TrackJson[] }>('/tracks?camera_id=vtest&class=person&limit=500', { token })).json.tracks;
    const segs = (await vigil.api<Array<{ start_time_ns: string; end_time_ns: string | null }>>(`/recordings?camera_id=vtest&start_time=0&end_time=${Date.now()}000000`, { token })).json;
    const recordedTo = segs.reduce((m, s) => (s.end_time_ns !== null && BigInt(s.end_time_ns) > m ? BigInt(s.end_time_ns) : m), 0n);
    const recordedFrom = segs.reduce((m, s) => (BigInt(s.start_time_ns) < m ? BigInt(s.start_time_ns) : m), recordedTo);
    const ended = all.filter(
      (t) => t.end_time_ns !== null && BigInt(t.end_time_ns) + 6_000_000_000n <= recordedTo && BigInt(t.start_time_ns) >= recordedFrom + BigInt(preRollS * 1e9),
    );
    const longest = ended.reduce((m, t) => Math.max(m, Number(BigInt(t.end_time_ns!) - BigInt(t.start_time_ns)) / 1e9), 0);
    if (ended.length >= min && longest >= longestS) return ended;
    await sleep(1000);
  }
  throw new Error(`fewer than ${min} ended person tracks with footage, or none of ${longestS} s:\n${vigil.log().slice(-2000)}`);
}

test('GET /tracks: newest first, span and class filters, refusals', async () => {
  const ended = await endedTracks(3);
  const all = (await vigil.api<{ tracks: TrackJson[]; truncated: boolean }>('/tracks?camera_id=vtest&limit=500', { token })).json;
  assert.equal(all.truncated, false);
  const ids = all.tracks.map((t) => t.track_id);
  assert.deepEqual(ids, [...ids].sort((a, b) => b - a));
  const t = ended[ended.length - 1]!;
  assert.deepEqual(t.links, { snapshot: `/tracks/vtest:${t.track_id}/snapshot.jpg`, clip: `/events/vtest:${t.track_id}/clip` });
  assert.equal(t.start_time, new Date(Number(BigInt(t.start_time_ns) / 1_000_000n)).toISOString());
  // A span that is exactly this track's: it is in; one that ends before it started: it is not.
  const inSpan = (await vigil.api<{ tracks: TrackJson[] }>(`/tracks?camera_id=vtest&start_time=${t.start_time_ns}&end_time=${t.end_time_ns}`, { token })).json.tracks;
  assert.ok(inSpan.some((x) => x.track_id === t.track_id));
  const earlier = (await vigil.api<{ tracks: TrackJson[] }>(`/tracks?camera_id=vtest&start_time=0&end_time=${BigInt(t.start_time_ns) - 1n}`, { token })).json.tracks;
  assert.ok(earlier.every((x) => BigInt(x.start_time_ns) < BigInt(t.start_time_ns)));
  assert.ok(!earlier.some((x) => x.track_id === t.track_id));
  assert.deepEqual((await vigil.api('/tracks?camera_id=vtest&start_time=2000&end_time=1000', { token })).json, { error: { code: 'E_VALIDATION', message: 'Expected an end_time not before start_time for end_time but received "1000"' } });
  assert.deepEqual((await vigil.api<{ tracks: TrackJson[] }>('/tracks?camera_id=vtest&class=car', { token })).json.tracks.filter((x) => x.class_name !== 'car'), []);
  assert.deepEqual((await vigil.api('/tracks?limit=5', { token })).json, { error: { code: 'E_VALIDATION', message: 'Expected a camera id for camera_id but received null' } });
  assert.deepEqual((await vigil.api('/tracks?camera_id=vtest&limit=0', { token })).json, { error: { code: 'E_VALIDATION', message: 'Expected an integer from 1 to 500 for limit but received "0"' } });
  assert.equal((await vigil.api('/tracks?camera_id=vtest')).status, 401);
  // Camera scope: a viewer of another camera gets a 403 for this one's tracks.
  assert.equal((await vigil.api('/users', { method: 'POST', body: { username: 'outsider', password: 'viewer-pw-34', role: 'viewer', cameras: ['elsewhere'] }, token })).status, 201);
  const outsider = await vigil.token('outsider', 'viewer-pw-34');
  const refused = await vigil.api('/tracks?camera_id=vtest', { token: outsider });
  assert.equal(refused.status, 403);
  assert.deepEqual(refused.json, { error: { code: 'E_FORBIDDEN', message: 'Camera vtest is outside your scope' } });
});

test('events: stored tracks with snapshots as GET /tracks lists them; a track clip plays by URL and seeks with Range requests', async () => {
  // A track of 3 s or more with 5 s recorded before it: its clip (5 s before it to 5 s after) is long enough to seek
  // into its second half.
  const ended = await endedTracks(3, { longestS: 3, preRollS: 5 });
  // The longest ended track: its clip is the biggest, so the browser has not read it all when it seeks.
  const chosen = [...ended].sort((a, b) => Number(BigInt(b.end_time_ns!) - BigInt(b.start_time_ns) - (BigInt(a.end_time_ns!) - BigInt(a.start_time_ns))))[0]!;
  const from = new Date(started.getTime() - 60_000);
  // The span ends after the last of the ended tracks (not after the chosen one, which may have ended first): all
  // of them are in it.
  const lastEndNs = ended.reduce((m, t) => (BigInt(t.end_time_ns!) > m ? BigInt(t.end_time_ns!) : m), 0n);
  const to = new Date(Number(lastEndNs / 1_000_000n) + 1000);
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 }, timezoneId: 'UTC' });
  const page = await ctx.newPage();
  await loginAs(page, vigil.url, 'admin', vigil.adminPassword);
  await page.getByRole('link', { name: 'Events' }).click();
  const history = page.getByRole('form', { name: 'Track history' });
  await history.getByLabel('From').fill(localUtc(from));
  await history.getByLabel('To').fill(localUtc(to));
  await history.getByRole('button', { name: 'Show tracks' }).click();
  const q = `/tracks?camera_id=vtest&limit=50&start_time=${from.toISOString().slice(0, 19)}.000Z&end_time=${to.toISOString().slice(0, 19)}.000Z`;
  const list = page.getByRole('list', { name: 'Tracks of vtest' });
  await list.locator(`li[data-track="${chosen.track_id}"]`).waitFor();
  // What the page shows is what the route answers for the same span (the span is closed: no new track can enter).
  const expected = (await vigil.api<{ tracks: TrackJson[] }>(q, { token })).json.tracks.map((t) => t.track_id);
  await page.waitForFunction((n) => document.querySelectorAll('ol.timeline li[data-track]').length === n, expected.length);
  const shown = await list.locator('li[data-track]').evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset['track'])));
  assert.deepEqual(shown, expected);
  assert.ok(shown.length >= 3);
  // Snapshots: the track's crop, loaded.
  const thumb = list.locator(`li[data-track="${chosen.track_id}"] img`);
  await thumb.waitFor();
  await page.waitForFunction((id) => ((document.querySelector(`li[data-track="${id}"] img`) as HTMLImageElement | null)?.naturalWidth ?? 0) > 0, chosen.track_id);
  await screenshot(page, 'events-tracks');

  // The clip, by URL: every request for it is the browser's own (media cookie, no bearer header, Range).
  const clipPath = `/events/vtest:${chosen.track_id}/clip`;
  const requests: Array<{ range: string | undefined; auth: string | undefined; cookie: string; status: number; contentRange: string | null }> = [];
  const pending: Array<Promise<void>> = [];
  page.on('response', (res: Response) => {
    if (!res.url().endsWith(clipPath)) return;
    pending.push(
      (async () => {
        const h = await res.request().allHeaders();
        requests.push({ range: h['range'], auth: h['authorization'], cookie: h['cookie'] ?? '', status: res.status(), contentRange: await res.headerValue('content-range') });
      })(),
    );
  });
  // A network slower than loopback (1.6 Mbit/s, about the clip's bit rate): the browser has not read the whole clip
  // by the time it seeks, as with a real camera recording over a real link.
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 10, downloadThroughput: 200_000, uploadThroughput: 1_000_000 });
  // Keyboard: focus the row's clip button and press Enter.
  await list.getByRole('button', { name: `Play clip of person ${chosen.track_id}`, exact: true }).focus();
  await page.keyboard.press('Enter');
  const clip = page.locator('video.clip');
  await clip.waitFor();
  assert.equal(await clip.evaluate((v: HTMLVideoElement) => new URL(v.currentSrc).pathname), clipPath);
  await page.waitForFunction(() => (document.querySelector('video.clip') as HTMLVideoElement | null)?.dataset['seekedTo'] !== undefined);
  const seekedTo = Number(await clip.evaluate((v: HTMLVideoElement) => v.dataset['seekedTo']));
  assert.ok(seekedTo >= 5 && seekedTo < 5.1, `clip opened at ${seekedTo} s (5 s before the track started)`);
  // Seek to the middle of the clip's second half: the browser asks for the bytes from there.
  const duration = await clip.evaluate((v: HTMLVideoElement) => v.duration);
  const spanS = Number(BigInt(chosen.end_time_ns!) - BigInt(chosen.start_time_ns)) / 1e9;
  assert.ok(duration > 12, `clip of ${duration} s for a track of ${spanS} s`);
  const target = Math.round(duration * 0.8 * 10) / 10;
  const beforeSeek = requests.length;
  await clip.evaluate((v: HTMLVideoElement, t: number) => {
    v.pause();
    v.currentTime = t;
  }, target);
  await page.waitForFunction((t) => {
    const v = document.querySelector('video.clip') as HTMLVideoElement;
    return !v.seeking && Math.abs(v.currentTime - t) < 0.05 && v.readyState >= 2;
  }, target);
  await screenshot(page, 'clip-seeked');
  await Promise.all(pending);
  assert.ok(requests.length > 0, 'the browser fetched the clip itself');
  for (const r of requests) {
    assert.equal(r.auth, undefined, 'no bearer header: the media cookie authorizes');
    assert.match(r.cookie, /(^|; )vigil_media=/);
    assert.match(r.range ?? '', /^bytes=\d+-\d*$/);
  }
  const sizeOf = (cr: string | null): number => Number(/\/(\d+)$/.exec(cr ?? '')![1]);
  const size = sizeOf(requests[0]!.contentRange);
  const seekReqs = requests.slice(beforeSeek).filter((r) => Number(/^bytes=(\d+)/.exec(r.range!)![1]) > 0);
  assert.ok(seekReqs.length > 0, `a Range request from past the start after the seek: ${JSON.stringify(requests)}`);
  for (const r of requests) {
    const start = Number(/^bytes=(\d+)/.exec(r.range!)![1]);
    assert.equal(r.status, 206);
    assert.match(r.contentRange!, new RegExp(`^bytes ${start}-\\d+/${size}$`));
  }
  await page.keyboard.press('Escape');
  await clip.waitFor({ state: 'detached' });
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });

  // The route itself, with the cookie the page holds: exact 206 / Content-Range, the same bytes as the whole file.
  const cookie = (await ctx.cookies()).find((c) => c.name === 'vigil_media')!;
  assert.equal(cookie.path, '/events');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');
  const whole = await fetch(vigil.url + clipPath, { headers: { cookie: `vigil_media=${cookie.value}` } });
  assert.equal(whole.status, 200);
  assert.equal(whole.headers.get('accept-ranges'), 'bytes');
  const body = new Uint8Array(await whole.arrayBuffer());
  assert.equal(body.length, size);
  const part = await fetch(vigil.url + clipPath, { headers: { cookie: `vigil_media=${cookie.value}`, range: 'bytes=1000-1999' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 1000-1999/${size}`);
  assert.deepEqual(new Uint8Array(await part.arrayBuffer()), body.subarray(1000, 2000));
  const tail = await fetch(vigil.url + clipPath, { headers: { cookie: `vigil_media=${cookie.value}`, range: `bytes=${size}-` } });
  assert.equal(tail.status, 416);
  assert.equal(tail.headers.get('content-range'), `bytes */${size}`);
  assert.equal((await fetch(vigil.url + clipPath)).status, 401);
  // The cookie is for GETs of media only: it does not authorize any other route.
  assert.equal((await fetch(`${vigil.url}/tracks?camera_id=vtest`, { headers: { cookie: `vigil_media=${cookie.value}` } })).status, 401);

  // Logout clears the media cookie; the token it held is revoked with the session anyway.
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByLabel('Username').waitFor();
  assert.equal((await ctx.cookies()).find((c) => c.name === 'vigil_media'), undefined);
  assert.equal((await fetch(vigil.url + clipPath, { headers: { cookie: `vigil_media=${cookie.value}` } })).status, 401);
  await ctx.close();
});

test('camera page: the timeline opens with the stored tracks (one GET /tracks), tracks starting live are added on top', async () => {
  const ended = await endedTracks(3);
  const storedMax = Math.max(...(await vigil.api<{ tracks: TrackJson[] }>('/tracks?camera_id=vtest&limit=500', { token })).json.tracks.map((t) => t.track_id));
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  await loginAs(page, vigil.url, 'admin', vigil.adminPassword);
  const calls: string[] = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/tracks') calls.push(r.url());
  });
  await page.goto(`${vigil.url}/ui/cameras/vtest`);
  const list = page.getByRole('list', { name: 'Tracks of vtest' });
  await list.locator(`li[data-track="${ended[0]!.track_id}"]`).waitFor();
  // A track that starts now comes from the live stream and goes first.
  await page.waitForFunction((max) => Number((document.querySelector('ol.timeline li[data-track]') as HTMLElement | null)?.dataset['track'] ?? 0) > max, storedMax, { timeout: 60_000 });
  assert.equal(calls.length, 1, `GET /tracks once: ${calls.join(', ')}`);
  assert.match(decodeURIComponent(calls[0]!), /\/tracks\?camera_id=vtest&limit=50&start_time=\d{4}-\d\d-\d\dT[\d:.]+Z$/);
  await screenshot(page, 'camera-timeline');
  await page.close();
});

interface Hit {
  camera_id: string;
  track_id: number;
  class_name: string;
  score: number;
}

test('search: similar tracks to a track chosen on the timeline, filtered by camera, class and time, are what POST /search returns', async () => {
  const ended = await endedTracks(4);
  // An example track whose embedding is stored (tracks are embedded once they end).
  let example: TrackJson | undefined;
  for (let i = 0; i < 60 && !example; i++) {
    for (const t of ended) {
      const r = await vigil.api<{ results: Hit[] }>('/search', { method: 'POST', body: { camera_id: 'vtest', track_id: t.track_id, k: 5 }, token });
      if (r.status === 200 && r.json.results.length > 1) {
        example = t;
        break;
      }
    }
    if (!example) await sleep(1000);
  }
  assert.ok(example, 'an embedded example track');
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, timezoneId: 'UTC' }); // phone width
  const page = await ctx.newPage();
  await loginAs(page, vigil.url, 'admin', vigil.adminPassword);
  await page.getByRole('link', { name: 'Events' }).click();
  const history = page.getByRole('form', { name: 'Track history' });
  await history.getByLabel('From').fill(localUtc(new Date(started.getTime() - 60_000)));
  await history.getByRole('button', { name: 'Show tracks' }).click();
  await page.getByRole('button', { name: `Similar to person ${example.track_id}`, exact: true }).click();
  await page.waitForURL(`**/ui/search?camera=vtest&track=${example.track_id}`);
  assert.equal(await page.getByLabel('Track id').inputValue(), String(example.track_id));
  // The example's camera is chosen once the camera list has loaded.
  await page.waitForFunction(() => (document.querySelector('select[name="camera"]') as HTMLSelectElement | null)?.value === 'vtest');
  const from = new Date(started.getTime() - 60_000);
  const search = async (cls: string, to: Date): Promise<{ shown: string[]; api: () => Promise<string[]> }> => {
    await page.getByLabel('Only camera').selectOption('vtest');
    await page.getByLabel('Class').fill(cls);
    await page.getByLabel('From').fill(localUtc(from));
    await page.getByLabel('To').fill(localUtc(to));
    const answered = page.waitForResponse((r) => r.url().endsWith('/search') && r.request().method() === 'POST');
    await page.getByRole('button', { name: 'Search' }).click();
    const res = await answered;
    const sent = res.request().postDataJSON() as Record<string, unknown>;
    // The page asked for exactly this query...
    assert.deepEqual(sent, { camera_id: 'vtest', track_id: example!.track_id, k: 24, cameras: ['vtest'], class: cls, start_time: `${localUtc(from)}.000Z`, end_time: `${localUtc(to)}.000Z` });
    await page.waitForFunction((n) => document.querySelectorAll('ul.hits li[data-hit]').length === n || (n === 0 && document.querySelector('ul.hits li.muted')), ((await res.json()) as { results: Hit[] }).results.length);
    const shown = await page.locator('ul.hits li[data-hit]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset['hit']!));
    const api = async () => (await vigil.api<{ results: Hit[] }>('/search', { method: 'POST', body: sent, token })).json.results.map((h) => `${h.camera_id}:${h.track_id}`);
    return { shown, api };
  };
  // Time closed in the past: hits cannot change between the page's query and the test's.
  const to = new Date(Number(BigInt(example.end_time_ns!) / 1_000_000n) + 2000);
  const people = await search('person', to);
  assert.ok(people.shown.length > 1, `hits: ${people.shown.join(', ')}`);
  assert.deepEqual(people.shown, await people.api());
  const hits = (await vigil.api<{ results: Hit[] }>('/search', { method: 'POST', body: { camera_id: 'vtest', track_id: example.track_id, k: 24, cameras: ['vtest'], class: 'person', start_time: `${localUtc(from)}.000Z`, end_time: `${localUtc(to)}.000Z` }, token })).json.results;
  assert.ok(hits.every((h) => h.camera_id === 'vtest' && h.class_name === 'person'));
  const scores = hits.map((h) => h.score);
  assert.deepEqual(scores, [...scores].sort((a, b) => b - a));
  await screenshot(page, 'search-phone');
  // Another class: nothing similar, as the API says.
  const cars = await search('car', to);
  assert.deepEqual(cars.shown, []);
  assert.deepEqual(await cars.api(), []);
  await page.getByText('Nothing similar.').waitFor();
  await ctx.close();
});
