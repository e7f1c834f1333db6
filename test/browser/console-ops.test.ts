/**
 * The console's events page in a real browser against a real `vigil serve` (vtest recorded in 2 s segments, a
 * dwell rule that raises on it): clicking an alert plays its clip from the alert's moment; an operator
 * acknowledges it. (Scopes and rule drawing: console-rules.test.ts.)
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { loginAs, screenshot, startTwoCameraSite, type AlertJson, type Vigil } from './harness.js';

let vigil: Vigil;
let browser: Browser;
let token: string;

before(async () => {
  ({ vigil, browser, token } = await startTwoCameraSite({ record: true }));
});

after(async () => {
  await browser?.close();
  await vigil?.stop();
});

test('events: an alert plays its clip from the alert time; an operator acknowledges it', async () => {
  // The dwell rule raises once a person has been in the frame 6 s; its clip needs closed 2 s segments after that.
  let alert: AlertJson | undefined;
  for (let i = 0; i < 60 && !alert; i++) {
    await new Promise((r) => setTimeout(r, 500));
    alert = (await vigil.api<{ alerts: AlertJson[] }>('/alerts?camera_id=vtest', { token })).json.alerts[0];
  }
  assert.ok(alert, `an alert was raised:\n${vigil.log().slice(-2000)}`);
  // Clips are cut from closed segments: wait for one that ends 3 s past the raise.
  const raised = BigInt(alert.raisedNs);
  let recorded = false;
  for (let i = 0; i < 40 && !recorded; i++) {
    const segs = (await vigil.api<Array<{ end_time_ns: string | null }>>(`/recordings?camera_id=vtest&start_time=${raised - 60_000_000_000n}&end_time=${raised + 60_000_000_000n}`, { token })).json;
    recorded = segs.some((s) => s.end_time_ns !== null && BigInt(s.end_time_ns) >= raised + 3_000_000_000n);
    if (!recorded) await new Promise((r) => setTimeout(r, 500));
  }
  assert.ok(recorded, 'footage after the alert was recorded');
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  await loginAs(page, vigil.url, 'olga', 'operator-pw-1');
  await page.getByRole('link', { name: 'Events' }).click();
  const row = page.locator(`li[data-alert="${alert.alertId}"]`);
  await row.waitFor();
  await row.getByRole('button', { name: 'Play clip' }).click();
  const clip = page.locator('video.clip');
  await clip.waitFor({ timeout: 60_000 });
  // The clip starts 5 s before the raise: the player is put at 5 s and plays on from there.
  await page.waitForFunction(() => (document.querySelector('video.clip') as HTMLVideoElement | null)?.dataset['seekedTo'] !== undefined);
  const seekedTo = Number(await clip.evaluate((v: HTMLVideoElement) => v.dataset['seekedTo']));
  assert.ok(seekedTo >= 5 && seekedTo < 5.1, `clip opened at ${seekedTo} s`);
  await page.waitForFunction((t) => (document.querySelector('video.clip') as HTMLVideoElement).currentTime > t + 0.3, seekedTo);
  await screenshot(page, 'clip');
  await page.keyboard.press('Escape');
  await row.getByRole('button', { name: 'Acknowledge' }).click();
  await row.getByText(/ by olga$/).waitFor();
  const after = (await vigil.api<AlertJson>(`/alerts/${encodeURIComponent(alert.alertId)}`, { token })).json;
  assert.equal(after.acknowledgedBy, 'olga');
  await screenshot(page, 'events');
  await page.close();
});
