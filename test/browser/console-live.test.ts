/**
 * The console in a real browser against a real `vigil serve` on vtest: log in, the grid's live video plays (fMP4
 * over /live into MSE: currentTime advances and a captured frame is not uniform), person boxes from the /ws
 * FlatBuffers stream are drawn over the vtest camera within 5 s, and logging out ends the live streams (the
 * server's live-view gauge drops to 0 and the camera's tap stops).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { media } from '../helpers/media.js';
import { launchBrowser, loginAs, screenshot, startVigil, type Vigil } from './harness.js';

let vigil: Vigil;
let browser: Browser;

before(async () => {
  [vigil, browser] = await Promise.all([
    startVigil(['cameras:', '  - id: vtest', `    source: { kind: file, path: ${media('vtest-h264.mp4')}, loop: true }`, '    detectFps: 5']),
    launchBrowser(),
  ]);
});

after(async () => {
  await browser?.close();
  await vigil?.stop();
});

async function liveViewers(token: string): Promise<number> {
  const res = await fetch(`${vigil.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  const m = /^vigil_live_viewers (\d+)/m.exec(await res.text());
  return m ? Number(m[1]) : -1;
}

test('grid: live video plays, person boxes over it, logout ends the live streams', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  await loginAs(page, vigil.url, 'admin', vigil.adminPassword);
  assert.equal(new URL(page.url()).pathname, '/ui/');
  const video = page.locator('.live[data-camera="vtest"] video');
  // Video plays: currentTime advances.
  await page.waitForFunction(() => (document.querySelector('.live[data-camera="vtest"] video') as HTMLVideoElement | null)?.currentTime! > 1, null, { timeout: 20_000 });
  const t1 = await video.evaluate((v: HTMLVideoElement) => v.currentTime);
  await page.waitForTimeout(1000);
  const t2 = await video.evaluate((v: HTMLVideoElement) => v.currentTime);
  assert.ok(t2 > t1, `currentTime advanced (${t1} -> ${t2})`);
  // A captured frame is a picture, not a uniform fill.
  const spread = await video.evaluate((v: HTMLVideoElement) => {
    const c = document.createElement('canvas');
    c.width = 96;
    c.height = 72;
    const ctx = c.getContext('2d')!;
    ctx.drawImage(v, 0, 0, 96, 72);
    const d = ctx.getImageData(0, 0, 96, 72).data;
    let min = 255;
    let max = 0;
    for (let i = 0; i < d.length; i += 4) {
      const y = (d[i]! + d[i + 1]! + d[i + 2]!) / 3;
      min = Math.min(min, y);
      max = Math.max(max, y);
    }
    return max - min;
  });
  assert.ok(spread > 60, `frame luma spread ${spread}`);
  // Person boxes over the video within 5 s.
  await page.waitForFunction(() => (document.querySelector('.live[data-camera="vtest"] canvas') as HTMLCanvasElement | null)?.dataset['labels']?.includes('person'), null, { timeout: 5_000 });
  await screenshot(page, 'grid');
  const token = await vigil.token();
  assert.equal(await liveViewers(token), 1);

  // Single-camera view: the same live view, large.
  await page.getByRole('link', { name: /vtest/ }).click();
  await page.waitForFunction(() => location.pathname === '/ui/cameras/vtest');
  await page.waitForFunction(() => (document.querySelector('.live.large video') as HTMLVideoElement | null)?.currentTime! > 0.5, null, { timeout: 15_000 });
  await screenshot(page, 'camera');

  // Logout: the login form again and no live stream left on the server.
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('button', { name: 'Log in' }).waitFor();
  let viewers = -1;
  for (let i = 0; i < 30 && viewers !== 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    viewers = await liveViewers(token);
  }
  assert.equal(viewers, 0);
  // Reload after logout: the cookie was cleared, so the page asks for a login again.
  await page.reload();
  await page.getByRole('button', { name: 'Log in' }).waitFor();
  await screenshot(page, 'login');
  await page.close();
});
