/**
 * An H.265 camera in a real browser against a real `vigil serve` (vtest in H.265): the server's live tap muxes the
 * camera's own H.265 into fMP4 (init segment with hev1 + hvcC, MIME type with the codec string) and sends it
 * over /live; Debian's chromium has no HEVC decoder for Media Source Extensions (MediaSource.isTypeSupported says
 * no), so the page falls back to latest.jpg once a second, says so on the tile, and the picture changes.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import WebSocket from 'ws';
import { media } from '../helpers/media.js';
import { launchBrowser, loginAs, screenshot, startVigil, type Vigil } from './harness.js';

let vigil: Vigil;
let browser: Browser;

before(async () => {
  // One after the other: a server that fails to start must not leave a browser behind (and the reverse).
  browser = await launchBrowser();
  vigil = await startVigil(['cameras:', '  - id: hevc', `    source: { kind: file, path: ${media('vtest-h265.mp4')}, loop: true }`, '    detectFps: 4']);
});

after(async () => {
  await browser?.close();
  await vigil?.stop();
});

/** The first init message /live sends for `camera`: its MIME type and ftyp+moov. */
async function liveInit(token: string, camera: string): Promise<{ mime: string; segment: Buffer }> {
  const ws = new WebSocket(`${vigil.url.replace('http', 'ws')}/live`, ['vigil.live.v1', `bearer.${token}`]);
  try {
    return await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no init segment within 30 s')), 30_000);
      ws.on('open', () => ws.send(JSON.stringify({ watch: [camera] })));
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (!isBinary) return reject(new Error(`live: ${data.toString()}`));
        if (data[0] !== 1) return;
        const n = data[1]!;
        const ml = data.readUInt16BE(2 + n);
        clearTimeout(t);
        resolve({ mime: data.subarray(4 + n, 4 + n + ml).toString(), segment: data.subarray(4 + n + ml) });
      });
      ws.on('error', reject);
    });
  } finally {
    ws.close();
  }
}

test('H.265 camera: fMP4 with hev1/hvcC on /live; chromium cannot play it, so the tile shows latest.jpg once a second, says why, and the picture changes', async () => {
  const token = await vigil.token();
  // Cameras start after the listener: wait for this one to run.
  let state = '';
  for (let i = 0; i < 120 && state !== 'running'; i++) {
    state = (await vigil.api<Array<{ id: string; state: string }>>('/cameras', { token })).json.find((c) => c.id === 'hevc')?.state ?? '';
    if (state !== 'running') await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(state, 'running', vigil.log().slice(-2000));
  const init = await liveInit(token, 'hevc');
  // vtest-h265.mp4 is tagged hev1 (ffmpeg's libx265 default): h265parse hands the decoder stream-format=hev1 with
  // the hvcC as codec_data, carried as is. Main profile, level 3 (90), progressive + frame-only constraints (90).
  assert.equal(init.mime, 'video/mp4; codecs="hev1.1.6.L90.90"');
  const boxAt = (type: string): number => init.segment.indexOf(Buffer.from(type, 'latin1'));
  assert.equal(init.segment.subarray(4, 8).toString('latin1'), 'ftyp');
  assert.ok(boxAt('hev1') > 0 && boxAt('hvcC') > boxAt('hev1'), 'hev1 sample entry holding an hvcC');
  const hvcC = init.segment.subarray(boxAt('hvcC') + 4);
  assert.equal(hvcC[0], 1); // configurationVersion
  assert.equal(hvcC[1]! & 0x1f, 1); // Main profile
  const codec = /codecs="([^"]+)"/.exec(init.mime)![1]!;

  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  await loginAs(page, vigil.url, 'admin', vigil.adminPassword);
  assert.equal(await page.evaluate((m) => MediaSource.isTypeSupported(m), init.mime), false, "Debian's chromium decodes no HEVC in MSE");
  const tile = page.locator('.live[data-camera="hevc"]');
  const note = tile.getByRole('status');
  await note.waitFor({ timeout: 60_000 });
  assert.equal(await note.innerText(), `This browser cannot play H.265 video (${codec}): showing the latest picture once a second.`);
  assert.equal(await tile.locator('.badge').innerText(), 'JPEG');
  assert.equal(await tile.locator('video').isHidden(), true);
  // The picture: loaded, then a different one a moment later (people walk in vtest).
  const pixels = (): Promise<string> =>
    tile.locator('img.fallback').evaluate((img: HTMLImageElement) => {
      const c = document.createElement('canvas');
      c.width = 64;
      c.height = 36;
      const ctx = c.getContext('2d')!;
      ctx.drawImage(img, 0, 0, 64, 36);
      return Array.from(ctx.getImageData(0, 0, 64, 36).data).join(',');
    });
  await page.waitForFunction(() => ((document.querySelector('.live[data-camera="hevc"] img.fallback') as HTMLImageElement | null)?.naturalWidth ?? 0) > 0);
  const first = await pixels();
  assert.notEqual(new Set(first.split(',')).size, 1, 'the picture is not uniform');
  let changed = false;
  for (let i = 0; i < 40 && !changed; i++) {
    await new Promise((r) => setTimeout(r, 500));
    changed = (await pixels()) !== first;
  }
  assert.ok(changed, 'the picture changes');
  await screenshot(page, 'h265-fallback');
  await page.close();
});
