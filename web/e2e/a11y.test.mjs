// Accessibility end-to-end tests (issue 13 point 10): axe-core in Chromium finds no
// serious or critical violation on the login page, a room, a DM and each dialog (desktop
// and 390x844); the app works from the keyboard alone (tab order, Enter to submit and
// send, Escape closes dialogs and gives focus back, focus moves into a newly opened
// room); new messages of others are read out by a live region.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { person, scenario, uniqueId } from './lib/scenario.mjs';
import { createRoom, joinRoom, register, send, tid, waitConnected, waitForTexts } from './lib/ui.mjs';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const uniq = uniqueId();
const A = person('alice', uniq);
const B = person('bob', uniq);

/** Runs axe on the page; fails listing every serious or critical violation. */
async function assertAccessible(page, where) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.addScriptTag({ content: AXE });
  // finish CSS transitions (the drawer slides) before measuring colours
  await page.waitForTimeout(300);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => `${n.target.join(' ')}: ${n.failureSummary}`) }));
  });
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (process.env.E2E_A11Y_REPORT) {
    // survey mode: list everything and go on
    if (result.length) console.log(`### ${where}\n${JSON.stringify(result, null, 1)}`);
    return;
  }
  assert.deepEqual(bad, [], `${where}: ${JSON.stringify(bad, null, 2)}`);
}

async function activeTestId(page) {
  return page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.tagName);
}

scenario('accessibility (e2e, axe-core + keyboard)', {
  users: { alice: 'desktop', bob: 'phone' },
  contextOptions: { bypassCSP: true }, // axe is injected as a script
}, (s) => {
  let alice;
  let bob;
  let roomId;
  const room = `a11y-${uniq}`;

  s.step('the login and register pages have no serious violations (desktop and phone)', async () => {
    ({ alice, bob } = s.users);
    await alice.page.goto('/');
    await alice.page.waitForSelector(tid('login-form'));
    await assertAccessible(alice.page, 'login (desktop)');
    await bob.page.goto('/');
    await bob.page.waitForSelector(tid('login-form'));
    await assertAccessible(bob.page, 'login (phone)');
    await alice.page.click(tid('tab-register'));
    await assertAccessible(alice.page, 'register (desktop)');
  });

  s.step('registers from the keyboard alone: tab order and Enter', async () => {
    const page = alice.page;
    assert.equal(await activeTestId(page), 'register-username');
    await page.keyboard.type(A.username);
    await page.keyboard.press('Tab');
    assert.equal(await activeTestId(page), 'register-email');
    await page.keyboard.type(A.email);
    await page.keyboard.press('Tab');
    assert.equal(await activeTestId(page), 'register-password');
    await page.keyboard.type(A.password);
    await page.keyboard.press('Tab');
    assert.equal(await activeTestId(page), 'register-submit');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Enter');
    await page.waitForSelector(tid('chat-app'));
    await waitConnected(page);
    await register(bob.page, B);
  });

  s.step('creates a room from the keyboard; Escape closes a dialog; focus moves into the new room', async () => {
    const page = alice.page;
    await page.focus(tid('new-room-button'));
    await page.keyboard.press('Enter');
    await page.waitForSelector(tid('create-room-dialog'));
    assert.equal(await activeTestId(page), 'room-name-input');
    await page.keyboard.press('Escape');
    await page.waitForSelector(tid('create-room-dialog'), { state: 'detached' });
    assert.equal(await activeTestId(page), 'new-room-button', 'focus goes back to the button that opened the dialog');
    await page.keyboard.press('Enter');
    await page.waitForSelector(tid('create-room-dialog'));
    await page.keyboard.type(room);
    await page.keyboard.press('Enter');
    await page.waitForSelector(`${tid('chat-view')} ${tid('room-title')}:has-text("${room}")`);
    roomId = await page.getAttribute(tid('chat-view'), 'data-room-id');
    assert.equal(await activeTestId(page), 'composer-input', 'focus is in the new room');
    await page.keyboard.type('typed without a mouse');
    await page.keyboard.press('Enter');
    await waitForTexts(page, ['typed without a mouse']);
  });

  s.step('reads out new messages of others in a live region', async () => {
    await joinRoom(bob.page, room);
    await send(bob.page, 'hello from the phone');
    await waitForTexts(alice.page, ['hello from the phone']);
    const live = alice.page.locator(tid('live-announcer'));
    await alice.page.waitForFunction(() => /hello from the phone/.test(document.querySelector('[data-testid="live-announcer"]')?.textContent ?? ''));
    assert.equal(await live.getAttribute('aria-live'), 'polite');
    assert.match(await live.textContent(), new RegExp(`${B.username}: hello from the phone`));
  });

  s.step('a room has no serious violations (desktop with members, phone, phone drawer)', async () => {
    await send(alice.page, 'a second line\nwith a newline');
    await waitForTexts(bob.page, ['a second line\nwith a newline']);
    if (!(await alice.page.isVisible(tid('members-panel')))) await alice.page.click(tid('members-toggle'));
    await alice.page.waitForSelector(`${tid('members-panel')} ${tid('member')}`);
    await assertAccessible(alice.page, 'room (desktop)');
    await assertAccessible(bob.page, 'room (phone)');
    await bob.page.click(tid('menu-button'));
    await assertAccessible(bob.page, 'drawer (phone)');
    await bob.page.keyboard.press('Escape');
  });

  s.step('each dialog has no serious violations and closes with Escape', async () => {
    const page = alice.page;
    for (const [button, dialog, ready] of [
      ['new-room-button', 'create-room-dialog', 'room-name-input'],
      ['browse-rooms-button', 'browse-dialog', 'browse-search'],
      ['new-dm-button', 'dm-dialog', 'user-search-input'],
      ['profile-button', 'profile-dialog', 'profile-display-name'],
    ]) {
      await page.click(tid(button));
      await page.waitForSelector(tid(ready));
      if (dialog === 'dm-dialog') {
        await page.fill(tid('user-search-input'), B.username);
        await page.waitForSelector(tid('user-search-result'));
      }
      await assertAccessible(page, dialog);
      await page.keyboard.press('Escape');
      await page.waitForSelector(tid(dialog), { state: 'detached' });
    }
  });

  s.step('a DM has no serious violations', async () => {
    const page = alice.page;
    await page.click(tid('new-dm-button'));
    await page.fill(tid('user-search-input'), B.username);
    await page.click(`${tid('user-search-result')}[data-username="${B.username}"] ${tid('user-search-pick')}`);
    await page.waitForSelector(`${tid('chat-view')} ${tid('room-title')}:has-text("${B.username}")`);
    assert.equal(await activeTestId(page), 'composer-input');
    await send(page, 'a private word');
    await waitForTexts(page, ['a private word']);
    await assertAccessible(page, 'DM (desktop)');
  });

  s.step('offline states have no serious violations (phone header indicator)', async () => {
    await bob.context.setOffline(true);
    await bob.page.waitForSelector(tid('header-connection-status'));
    await assertAccessible(bob.page, 'room offline (phone)');
    await bob.context.setOffline(false);
    await waitConnected(bob.page);
    assert.ok(roomId);
  });
});
