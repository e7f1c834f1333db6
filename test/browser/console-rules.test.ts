/**
 * The console's scopes and rule drawing in a real browser against a real `vigil serve` (vtest with a dwell rule, a
 * second quiet camera): a viewer scoped to one camera sees only that camera and none of the other's events (at
 * phone width; /live refuses the other camera); a tripwire drawn with the keyboard on the latest frame is saved
 * through the REST rules routes (GET /rules returns it) and fires on replay of the stored tracks.
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

test('a viewer scoped to one camera sees only that camera and none of the other camera events', async () => {
  // There is an event on the other camera to hide: the dwell rule's alert on vtest.
  let others = 0;
  for (let i = 0; i < 120 && others === 0; i++) {
    others = (await vigil.api<{ alerts: AlertJson[] }>('/alerts?camera_id=vtest', { token })).json.alerts.length;
    if (others === 0) await new Promise((r) => setTimeout(r, 500));
  }
  assert.ok(others > 0, 'an alert on vtest exists');
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
  await img.waitFor({ timeout: 30_000 });
  // Drawn with the keyboard: the cursor starts in the middle; Shift+arrow moves a tenth of the picture.
  await page.getByRole('application', { name: /Drawing area/ }).focus();
  for (let i = 0; i < 5; i++) await page.keyboard.press('Shift+ArrowLeft');
  await page.keyboard.press('Enter');
  for (let i = 0; i < 10; i++) await page.keyboard.press('Shift+ArrowRight');
  await page.keyboard.press('Enter');
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
  assert.deepEqual(saved.line, { from: [0, 0.5], to: [1, 0.5], normalized: true });
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

test('users (admin): change a role, set a password and disable a user through the REST user routes', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await loginAs(page, vigil.url, 'admin', vigil.adminPassword);
  await page.getByRole('link', { name: 'Users' }).click();
  await page.getByLabel('Role of olga').selectOption('viewer');
  await page.getByText('Role of olga changed').waitFor();
  page.once('dialog', (d) => void d.accept('new-olga-pass-9'));
  await page.getByRole('row', { name: /olga/ }).getByRole('button', { name: 'Set password' }).click();
  await page.getByText('Password of olga changed').waitFor();
  const users = (await vigil.api<{ users: Array<{ username: string; role: string; disabled: boolean }> }>('/users', { token })).json.users;
  assert.deepEqual(users.find((u) => u.username === 'olga'), { ...users.find((u) => u.username === 'olga'), role: 'viewer', disabled: false });
  assert.equal((await vigil.api('/auth/login', { method: 'POST', body: { username: 'olga', password: 'new-olga-pass-9' } })).status, 200);
  await page.getByRole('row', { name: /olga/ }).getByRole('button', { name: 'Disable' }).click();
  await page.getByText('olga disabled').waitFor();
  assert.equal((await vigil.api('/auth/login', { method: 'POST', body: { username: 'olga', password: 'new-olga-pass-9' } })).status, 403);
  await screenshot(page, 'users');
  await page.close();
});
