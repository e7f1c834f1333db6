/**
 * The console's operator pages in a real browser against a real `vigil serve` (vtest recorded in 2 s segments, a
 * dwell rule that raises on it, a second quiet camera): clicking an alert plays its clip from the alert's moment;
 * an operator acknowledges it; a viewer scoped to one camera sees only that camera and none of the other's
 * events; a tripwire drawn on the latest frame is saved through the REST rules routes (GET /rules returns it)
 * and fires on replay of the stored tracks.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { media } from '../helpers/media.js';
import { launchBrowser, loginAs, screenshot, startVigil, type Vigil } from './harness.js';

let vigil: Vigil;
let browser: Browser;
let token: string;

before(async () => {
  [vigil, browser] = await Promise.all([
    startVigil([
      'cameras:',
      '  - id: vtest',
      `    source: { kind: file, path: ${media('vtest-h264.mp4')}, loop: true }`,
      '    detectFps: 5',
      '    record: { mode: continuous, segmentSeconds: 2 }',
      '  - id: lobby',
      `    source: { kind: file, path: ${media('quiet-360p15.mp4')}, loop: true }`,
      '    detectFps: 1',
      'rules:',
      '  - { id: linger, name: Lingering, kind: dwell, cameras: [vtest], classes: [person], seconds: 6, zone: { points: [[0, 0], [1, 0], [1, 1], [0, 1]], normalized: true } }',
    ]),
    launchBrowser(),
  ]);
  token = await vigil.token();
  for (const u of [
    { username: 'olga', password: 'operator-pw-1', role: 'operator', cameras: '*' },
    { username: 'vic', password: 'viewer-pw-12', role: 'viewer', cameras: ['lobby'] },
  ]) {
    const r = await vigil.api('/users', { method: 'POST', body: u, token });
    assert.equal(r.status, 201);
  }
});

after(async () => {
  await browser?.close();
  await vigil?.stop();
});

interface AlertJson {
  alertId: string;
  raisedNs: string;
  cameraId: string;
  state: string;
  acknowledgedBy: string | null;
}

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
  await clip.waitFor({ timeout: 20_000 });
  // The clip starts 5 s before the raise: the player opens at 5 s and plays on from there.
  await page.waitForFunction(() => {
    const v = document.querySelector('video.clip') as HTMLVideoElement | null;
    return !!v && v.readyState >= 2 && v.currentTime >= 5 && v.currentTime < 6.5;
  }, null, { timeout: 15_000 });
  const t1 = await clip.evaluate((v: HTMLVideoElement) => v.currentTime);
  await page.waitForFunction((t) => (document.querySelector('video.clip') as HTMLVideoElement).currentTime > t + 0.3, t1, { timeout: 10_000 });
  await screenshot(page, 'clip');
  await page.keyboard.press('Escape');
  await row.getByRole('button', { name: 'Acknowledge' }).click();
  await row.getByText(/ by olga$/).waitFor();
  const after = (await vigil.api<AlertJson>(`/alerts/${encodeURIComponent(alert.alertId)}`, { token })).json;
  assert.equal(after.acknowledgedBy, 'olga');
  await screenshot(page, 'events');
  await page.close();
});

test('a viewer scoped to one camera sees only that camera and none of the other camera events', async () => {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } }); // phone width
  const page = await ctx.newPage();
  await loginAs(page, vigil.url, 'vic', 'viewer-pw-12');
  await page.locator('.tile').first().waitFor();
  assert.deepEqual(await page.locator('.live').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset['camera'])), ['lobby']);
  assert.equal(await page.getByRole('link', { name: 'Users' }).count(), 0);
  await page.getByRole('link', { name: 'Events' }).click();
  await page.getByText('No alerts.').waitFor();
  assert.equal(await page.locator('li.alert').count(), 0);
  await screenshot(page, 'viewer-phone');
  // The other camera's live stream is refused by the server, whatever the page asks for.
  const refusal = await page.evaluate(
    (t) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(`ws://${location.host}/live`, ['vigil.live.v1', `bearer.${t}`]);
        ws.onopen = () => ws.send(JSON.stringify({ watch: ['vtest'] }));
        ws.onmessage = (e) => (resolve(String(e.data)), ws.close());
        ws.onerror = () => resolve('error');
      }),
    await vigil.token('vic', 'viewer-pw-12'),
  );
  assert.deepEqual(JSON.parse(refusal), { camera: 'vtest', error: { code: 'E_FORBIDDEN_CAMERA', message: 'Camera "vtest" is outside this user\'s scope' } });
  await ctx.close();
});

test('rules: a tripwire drawn on the latest frame is saved (GET /rules returns it) and fires on replay', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await loginAs(page, vigil.url, 'admin', vigil.adminPassword);
  await page.getByRole('link', { name: 'Rules' }).click();
  await page.getByLabel('Camera').selectOption('vtest');
  await page.getByLabel('Id').fill('drawn-line');
  await page.getByLabel('Classes').fill('person');
  const img = page.locator('.draw img');
  await img.waitFor({ timeout: 10_000 });
  const box = (await img.boundingBox())!;
  await page.mouse.click(box.x + box.width * 0.02, box.y + box.height * 0.5);
  await page.mouse.click(box.x + box.width * 0.98, box.y + box.height * 0.5);
  await page.getByRole('button', { name: 'Preview on stored tracks' }).click();
  await page.locator('.preview').waitFor();
  assert.match(await page.locator('.preview').innerText(), /would have raised \d+ alert/);
  await page.getByRole('button', { name: 'Save rule' }).click();
  await page.getByText('Saved rule drawn-line').waitFor();
  await screenshot(page, 'rules');
  await page.close();
  const rules = (await vigil.api<Array<{ source: string; rule: { id: string; kind: string; cameras: string[]; line: { from: number[]; to: number[]; normalized: boolean } } }>>('/rules', { token })).json;
  const entry = rules.find((r) => r.rule.id === 'drawn-line');
  assert.equal(entry?.source, 'api');
  const saved = entry.rule;
  assert.ok(saved);
  assert.equal(saved.kind, 'tripwire');
  assert.deepEqual(saved.cameras, ['vtest']);
  assert.equal(saved.line.normalized, true);
  assert.ok(Math.abs(saved.line.from[1]! - 0.5) < 0.02 && Math.abs(saved.line.to[1]! - 0.5) < 0.02, JSON.stringify(saved.line));
  // Replay of the stored tracks through the saved rule: people cross the middle of vtest all the time.
  let crossings = 0;
  for (let i = 0; i < 40 && crossings === 0; i++) {
    const r = await vigil.api<{ tripwire_counts: Record<string, Record<string, { aToB: number; bToA: number }>>; raised_by_rule: Record<string, number> }>('/console/rules/replay', {
      method: 'POST',
      body: { rules: [saved], camera_id: 'vtest' },
      token,
    });
    assert.equal(r.status, 200);
    const c = r.json.tripwire_counts['drawn-line']!['vtest']!;
    crossings = c.aToB + c.bToA;
    if (crossings > 0) assert.equal(r.json.raised_by_rule['drawn-line'], crossings);
    else await new Promise((res) => setTimeout(res, 500));
  }
  assert.ok(crossings > 0, 'the drawn tripwire fires on replay');
});
