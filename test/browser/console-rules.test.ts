/**
 * The console's scopes and rule drawing in a real browser against a real `vigil serve` (vtest with a dwell rule, a
 * second quiet camera): a viewer scoped to one camera sees only that camera and none of the other's events (at
 * phone width; /live refuses the other camera); a tripwire drawn with the keyboard on the latest frame is saved
 * through the REST rules routes (GET /rules returns it) and fires on replay of the stored tracks.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { loginAs, screenshot, startTwoCameraSite, type AlertJson, type Vigil } from './harness.js';

let vigil: Vigil;
let browser: Browser;
let token: string;

before(async () => {
  ({ vigil, browser, token } = await startTwoCameraSite({ record: false }));
});

after(async () => {
  await browser?.close();
  await vigil?.stop();
});

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

interface RuleEntryJson {
  source: string;
  rule: Record<string, unknown>;
}

test('rules editor (phone width, keyboard): a saved dwell rule loaded, its geometry, dwell and schedule changed and saved with PUT; an occupancy count changed; a sequence rule drawn and edited', async () => {
  for (const body of [
    { id: 'desk-dwell', kind: 'dwell', cameras: ['vtest'], classes: ['person'], seconds: 6, severity: 'critical', zone: { points: [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]], normalized: true } },
    { id: 'crowd', kind: 'occupancy', cameras: ['vtest'], condition: 'above', threshold: 3, forSeconds: 2 },
  ]) {
    const r = await vigil.api('/rules', { method: 'POST', body, token });
    assert.equal(r.status, 201, JSON.stringify(r.json));
  }
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await ctx.newPage();
  await loginAs(page, vigil.url, 'admin', vigil.adminPassword);
  await page.getByRole('link', { name: 'Rules' }).click();
  const draw = async (keys: string[]): Promise<void> => {
    await page.getByRole('application', { name: /Drawing area/ }).focus();
    for (const k of keys) await page.keyboard.press(k);
  };
  const saved = async (id: string): Promise<Record<string, unknown>> => (await vigil.api<RuleEntryJson>(`/rules/${id}`, { token })).json.rule;

  // Dwell: new zone (keyboard), 9 s, weekdays 08:00-18:00; what the editor does not show (severity) is kept.
  await page.getByRole('button', { name: 'Edit desk-dwell' }).click();
  const form = page.getByRole('form', { name: 'Edit rule desk-dwell' });
  await form.waitFor();
  assert.equal(await form.getByLabel('Id').inputValue(), 'desk-dwell');
  assert.equal(await form.getByLabel('Id').getAttribute('readonly'), '');
  assert.equal(await form.getByLabel('Kind').inputValue(), 'dwell');
  assert.equal(await form.getByLabel('Dwell seconds').inputValue(), '6');
  assert.equal(await form.getByLabel('Classes').inputValue(), 'person');
  await form.getByRole('button', { name: 'Clear' }).click();
  await draw(['Enter', 'Shift+ArrowRight', 'Shift+ArrowRight', 'Enter', 'Shift+ArrowDown', 'Shift+ArrowDown', 'Enter']);
  await form.getByLabel('Dwell seconds').fill('9');
  await form.getByLabel('Active from').fill('08:00');
  await form.getByLabel('to', { exact: true }).fill('18:00');
  await form.getByLabel('sat').uncheck();
  await form.getByLabel('sun').uncheck();
  await form.getByRole('button', { name: 'Save changes' }).click();
  await page.getByText('Updated rule desk-dwell').waitFor();
  await screenshot(page, 'rules-edit-phone');
  assert.deepEqual(await saved('desk-dwell'), {
    id: 'desk-dwell',
    name: 'desk-dwell',
    enabled: true,
    cameras: ['vtest'],
    classes: ['person'],
    minConfidence: 0,
    anchor: 'bottom_center',
    schedule: { windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:00', end: '18:00' }] },
    cooldownSeconds: 0,
    severity: 'critical',
    notify: [],
    kind: 'dwell',
    zone: { points: [[0.5, 0.5], [0.7, 0.5], [0.7, 0.7]], normalized: true },
    seconds: 9,
  });
  // Loaded again, the editor shows what was saved.
  await page.getByRole('button', { name: 'Edit desk-dwell' }).click();
  assert.equal(await form.getByLabel('Dwell seconds').inputValue(), '9');
  assert.equal(await form.getByLabel('Active from').inputValue(), '08:00');
  assert.equal(await form.getByLabel('sat').isChecked(), false);
  assert.equal(await form.getByLabel('mon').isChecked(), true);
  // Saved again untouched: the same rule (the loaded form is what is sent).
  const untouched = await saved('desk-dwell');
  const put = page.waitForResponse((r) => r.url().endsWith('/rules/desk-dwell') && r.request().method() === 'PUT');
  await form.getByRole('button', { name: 'Save changes' }).click();
  assert.equal((await put).status(), 200);
  assert.deepEqual(await saved('desk-dwell'), untouched);
  await page.getByRole('button', { name: 'Edit desk-dwell' }).click();
  await form.getByRole('button', { name: 'Cancel edit' }).click();
  await page.getByRole('form', { name: 'New rule' }).waitFor();

  // Occupancy: the count.
  await page.getByRole('button', { name: 'Edit crowd' }).click();
  const crowd = page.getByRole('form', { name: 'Edit rule crowd' });
  assert.equal(await crowd.getByLabel('Count', { exact: true }).inputValue(), '3');
  await crowd.getByLabel('Count', { exact: true }).fill('5');
  await crowd.getByRole('button', { name: 'Save changes' }).click();
  await page.getByText('Updated rule crowd').waitFor();
  const c = await saved('crowd');
  assert.deepEqual([c['kind'], c['zone'], c['condition'], c['threshold'], c['forSeconds']], ['occupancy', null, 'above', 5, 2]);

  // Sequence: two zones drawn with the keyboard ("N" closes a zone), within 20 s; then edited to 25 s.
  await page.reload();
  const fresh = page.getByRole('form', { name: 'New rule' });
  await fresh.getByLabel('Camera').selectOption('vtest');
  await fresh.getByLabel('Kind').selectOption('sequence');
  await fresh.getByLabel('Id').fill('in-then-out');
  await fresh.getByLabel('Classes').fill('person');
  await fresh.getByLabel('Within seconds').fill('20');
  await draw(['Enter', 'Shift+ArrowLeft', 'Shift+ArrowLeft', 'Enter', 'Shift+ArrowUp', 'Shift+ArrowUp', 'Enter', 'n']);
  await page.getByText('Zones done: 1').waitFor();
  await draw(['Shift+ArrowRight', 'Shift+ArrowRight', 'Shift+ArrowRight', 'Shift+ArrowRight', 'Enter', 'Shift+ArrowDown', 'Shift+ArrowDown', 'Enter', 'Shift+ArrowLeft', 'Enter']);
  await page.getByRole('button', { name: 'Preview on stored tracks' }).click();
  assert.match(await page.locator('.preview').innerText(), /would have raised \d+ alert/);
  await page.getByRole('button', { name: 'Save rule' }).click();
  await page.getByText('Saved rule in-then-out').waitFor();
  const zones = [
    { points: [[0.5, 0.5], [0.3, 0.5], [0.3, 0.3]], normalized: true },
    { points: [[0.7, 0.3], [0.7, 0.5], [0.6, 0.5]], normalized: true },
  ];
  let s = await saved('in-then-out');
  assert.deepEqual([s['kind'], s['zones'], s['withinSeconds'], s['classes']], ['sequence', zones, 20, ['person']]);
  await page.getByRole('button', { name: 'Edit in-then-out' }).click();
  const seq = page.getByRole('form', { name: 'Edit rule in-then-out' });
  assert.equal(await seq.getByLabel('Kind').inputValue(), 'sequence');
  assert.equal(await seq.getByText(/^Zones done: 2$/).count(), 1);
  await seq.getByLabel('Within seconds').fill('25');
  await seq.getByRole('button', { name: 'Save changes' }).click();
  await page.getByText('Updated rule in-then-out').waitFor();
  s = await saved('in-then-out');
  assert.deepEqual([s['kind'], s['zones'], s['withinSeconds']], ['sequence', zones, 25]);
  await screenshot(page, 'rules-sequence-phone');
  await ctx.close();
});
