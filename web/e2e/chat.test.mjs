// End-to-end tests of the web client against the real stack (2 gateways):
// register, rooms, messaging both ways, typing, presence, offline catch-up,
// gateway loss, DMs with unread counts, XSS safety, and screenshots.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { REPO_DIR, WEB_DIR, killGateway, startStack } from './lib/stack.mjs';
import {
  createRoom, joinRoom, launchBrowser, messageRows, messageTexts, newUserPage, openRoomById, register, send, tid,
  waitConnected, waitForTexts, waitSent,
} from './lib/ui.mjs';

const SHOTS = join(WEB_DIR, 'e2e', 'screenshots');
const uniq = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
const PASSWORD = 'correct-horse-battery';
const ROOM = `e2e-${uniq}`;

/** Each text exactly once and in this order among the shown messages. */
function assertOnceInOrder(texts, want, who) {
  const idx = want.map((w) => {
    const hits = texts.filter((t) => t === w).length;
    assert.equal(hits, 1, `${who}: "${w}" shown ${hits} times`);
    return texts.indexOf(w);
  });
  assert.deepEqual([...idx].sort((a, b) => a - b), idx, `${who}: out of order`);
}

function assertSeqOrdered(rows, who) {
  const seqs = rows.filter((r) => r.seq !== null).map((r) => r.seq);
  for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], `${who}: seq ${seqs[i]} after ${seqs[i - 1]}`);
}

describe('chat web client (e2e)', { timeout: 600_000 }, () => {
  let stack;
  let browser;
  let alice;
  let bob;
  let roomId;
  const A = { username: `alice_${uniq}`, email: `alice_${uniq}@example.test`, password: PASSWORD };
  const B = { username: `bob_${uniq}`, email: `bob_${uniq}@example.test`, password: PASSWORD };

  let setupError = null;
  /** A scenario step: fails at once (instead of hanging) when the stack did not start. */
  let brokenBy = null;
  const step = (name, fn, opts = {}) =>
    it(name, opts, async (t) => {
      if (setupError || !stack) throw new Error(`stack not running: ${String(setupError?.message ?? 'not started').split('\n')[0]}`);
      // The steps build on each other: after one fails, fail fast rather than wait on timeouts.
      if (brokenBy) throw new Error(`not run: the earlier step "${brokenBy}" failed`);
      try {
        return await fn(t);
      } catch (e) {
        brokenBy = name;
        for (const [u, who] of [[alice, 'alice'], [bob, 'bob']]) {
          await u?.page?.screenshot({ path: join(SHOTS, `failed-${who}.png`) }).catch(() => undefined);
        }
        throw e;
      }
    });

  it('starts the stack (2 gateways) and chromium', { timeout: 150_000 }, async () => {
    try {
      mkdirSync(SHOTS, { recursive: true });
      stack = await startStack({ gateways: 2 });
      browser = await launchBrowser();
      alice = await newUserPage(browser, stack.httpUrl);
      bob = await newUserPage(browser, stack.httpUrl);
    } catch (e) {
      setupError = e;
      throw e;
    }
  });

  after(async () => {
    try {
      for (const u of [alice, bob]) {
        if (u?.logs?.length && (process.env.E2E_VERBOSE || brokenBy)) console.log(u.logs.slice(-50).join('\n'));
      }
      await browser?.close();
    } finally {
      await stack?.stop();
    }
  }, { timeout: 60_000 });

  step('shows the login page and registers two users', async () => {
    await alice.page.goto('/');
    await alice.page.waitForSelector(tid('auth-page'));
    await alice.page.screenshot({ path: join(SHOTS, 'login.png') });
    await register(alice.page, A);
    await register(bob.page, B);
    assert.equal(await alice.page.textContent(tid('me-name')), A.username);
  });

  step('creates a room and lets the other user join it', async () => {
    roomId = await createRoom(alice.page, ROOM, { description: 'End-to-end test room' });
    assert.ok(roomId, 'room id');
    await joinRoom(bob.page, ROOM);
    assert.equal(await bob.page.getAttribute(tid('chat-view'), 'data-room-id'), roomId);
  });

  step('exchanges messages both ways, acked and in seq order', async () => {
    await send(alice.page, 'Hello from Alice 👋');
    await waitForTexts(bob.page, ['Hello from Alice 👋']);
    await send(bob.page, 'Hi Alice, Bob here');
    await waitForTexts(alice.page, ['Hi Alice, Bob here']);
    // Shift+Enter makes a newline, Enter sends
    const box = bob.page.locator(tid('composer-input'));
    await box.fill('');
    await box.type('line one');
    await box.press('Shift+Enter');
    await box.type('line two');
    await box.press('Enter');
    await waitForTexts(alice.page, ['line one\nline two']);
    await waitSent(alice.page, ['Hello from Alice 👋']);
    await waitSent(bob.page, ['Hi Alice, Bob here', 'line one\nline two']);
    for (const [u, who] of [[alice, 'alice'], [bob, 'bob']]) {
      const texts = await messageTexts(u.page);
      assertOnceInOrder(texts, ['Hello from Alice 👋', 'Hi Alice, Bob here', 'line one\nline two'], who);
      assertSeqOrdered(await messageRows(u.page), who);
    }
  });

  step('keeps the session across a reload', async () => {
    await alice.page.reload();
    await alice.page.waitForSelector(tid('chat-app'));
    await waitConnected(alice.page);
    await openRoomById(alice.page, roomId);
    await waitForTexts(alice.page, ['Hello from Alice 👋', 'Hi Alice, Bob here']);
  });

  step("shows the other user's typing and presence", async () => {
    await bob.page.locator(tid('composer-input')).fill('');
    await bob.page.locator(tid('composer-input')).type('I am typing something', { delay: 30 });
    await alice.page.waitForFunction(
      (name) => document.querySelector('[data-testid="typing-indicator"]')?.textContent?.includes(name),
      B.username,
      { timeout: 10_000 },
    );
    assert.match(await alice.page.textContent(tid('typing-indicator')), /is typing/);
    await bob.page.locator(tid('composer-input')).fill('');
    // the indicator goes away a few seconds after the last typing frame
    await alice.page.waitForFunction(
      () => !document.querySelector('[data-testid="typing-indicator"]')?.textContent,
      null,
      { timeout: 12_000 },
    );
    if (!(await alice.page.isVisible(tid('members-panel')))) await alice.page.click(tid('members-toggle'));
    await alice.page.waitForSelector(`${tid('member')}[data-username="${B.username}"][data-online="true"]`, { timeout: 15_000 });
  });

  step('catches up after going offline: every missed message once, in order', async () => {
    await bob.context.setOffline(true);
    await bob.page.waitForSelector(`${tid('connection-status')}:not([data-state="connected"])`, { timeout: 20_000 });
    const missed = [1, 2, 3, 4, 5].map((i) => `missed while offline #${i}`);
    for (const t of missed) await send(alice.page, t);
    await waitSent(alice.page, missed);
    await send(bob.page, 'written while offline');
    await bob.page.waitForSelector(`${tid('message')}[data-status="pending"]`);
    await bob.page.screenshot({ path: join(SHOTS, 'offline.png') });
    await bob.context.setOffline(false);
    await waitConnected(bob.page, 45_000);
    await waitForTexts(bob.page, missed, 30_000);
    await waitSent(bob.page, ['written while offline'], 30_000);
    await waitForTexts(alice.page, ['written while offline'], 30_000);
    const texts = await messageTexts(bob.page);
    assertOnceInOrder(texts, missed, 'bob');
    assertSeqOrdered(await messageRows(bob.page), 'bob');
    assertOnceInOrder(await messageTexts(alice.page), ['written while offline'], 'alice');
  });

  step('recovers when a gateway is killed (SIGKILL)', async (t) => {
    if (!stack.state?.pids?.gateway0) return t.skip('no gateway pid in the state file');
    killGateway(stack.state, 'gateway0');
    const burst = [1, 2, 3].map((i) => `after gateway loss #${i}`);
    for (const m of burst) await send(alice.page, m);
    await waitConnected(alice.page, 60_000);
    await waitConnected(bob.page, 60_000);
    await waitSent(alice.page, burst, 45_000);
    await waitForTexts(bob.page, burst, 45_000);
    await send(bob.page, 'bob is still here');
    await waitForTexts(alice.page, ['bob is still here'], 30_000);
    for (const [u, who] of [[alice, 'alice'], [bob, 'bob']]) {
      const texts = await messageTexts(u.page);
      assertOnceInOrder(texts, ['Hello from Alice 👋', ...burst, 'bob is still here'], who);
      assertSeqOrdered(await messageRows(u.page), who);
    }
  });

  step('renders HTML from users as literal text, never as markup', async () => {
    const payloads = ['<img src=x onerror="window.__xss=1">', '<script>window.__xss=1</script>', '<b>not bold</b>'];
    for (const p of payloads) await send(alice.page, p);
    await waitForTexts(bob.page, payloads);
    await waitForTexts(alice.page, payloads);
    for (const u of [alice, bob]) {
      assert.equal(await u.page.evaluate(() => window.__xss), undefined);
      const injected = await u.page.$$eval(
        `${tid('message-list')} img[src="x"], ${tid('message-list')} script, ${tid('message-list')} b`,
        (els) => els.length,
      );
      assert.equal(injected, 0);
    }
  });

  step('starts a DM from the member list; unread counts show for the other user', async () => {
    if (!(await bob.page.isVisible(tid('members-panel')))) await bob.page.click(tid('members-toggle'));
    await bob.page.click(`${tid('member')}[data-username="${A.username}"] ${tid('member-dm-button')}`);
    await bob.page.waitForFunction((rid) => {
      const v = document.querySelector('[data-testid="chat-view"]');
      return v && v.getAttribute('data-room-id') !== rid;
    }, roomId);
    const dmId = await bob.page.getAttribute(tid('chat-view'), 'data-room-id');
    await send(bob.page, 'psst, a direct message');
    await waitSent(bob.page, ['psst, a direct message']);
    // Alice learns about the new DM room (rooms are re-listed on reload)
    await alice.page.reload();
    await waitConnected(alice.page);
    const dmEntry = alice.page.locator(`${tid('sidebar')} [data-room-id="${dmId}"]`);
    await dmEntry.waitFor({ timeout: 20_000 });
    await dmEntry.locator(tid('unread-badge')).waitFor({ timeout: 10_000 });
    await dmEntry.click();
    await waitForTexts(alice.page, ['psst, a direct message']);
    // while Alice reads the DM, a room message counts as unread there
    await bob.page.click(`${tid('sidebar')} [data-room-id="${roomId}"]`);
    await send(bob.page, 'this one is unread for alice');
    const badge = alice.page.locator(`${tid('sidebar')} [data-room-id="${roomId}"] ${tid('unread-badge')}`);
    await badge.waitFor({ timeout: 15_000 });
    assert.equal((await badge.textContent()).trim(), '1');
    await openRoomById(alice.page, roomId);
    await badge.waitFor({ state: 'detached', timeout: 10_000 });
  });

  step('edits the profile; display names stay text and avatar URLs must be http(s)', async () => {
    await alice.page.click(tid('profile-button'));
    await alice.page.waitForSelector(tid('profile-dialog'));
    await alice.page.fill(tid('profile-display-name'), 'Alice <i>Liddell</i>');
    await alice.page.fill(tid('profile-avatar-url'), 'javascript:window.__xss=1');
    await alice.page.click(tid('profile-save'));
    await alice.page.waitForSelector(`${tid('profile-dialog')} [role="alert"]`);
    await alice.page.fill(tid('profile-avatar-url'), '');
    await alice.page.click(tid('profile-save'));
    await alice.page.waitForSelector(tid('profile-dialog'), { state: 'detached' });
    assert.equal(await alice.page.textContent(tid('me-name')), 'Alice <i>Liddell</i>');
    assert.equal(await alice.page.$$eval(`${tid('sidebar')} i`, (els) => els.length), 0);
    assert.equal(await alice.page.evaluate(() => window.__xss), undefined);
    await alice.page.click(tid('profile-button'));
    await alice.page.fill(tid('profile-display-name'), 'Alice Liddell');
    await alice.page.click(tid('profile-save'));
    await alice.page.waitForSelector(tid('profile-dialog'), { state: 'detached' });
  });

  step('lets the owner add and remove members of a private room', async () => {
    const secret = `private-${uniq}`;
    const secretId = await createRoom(alice.page, secret, { isPrivate: true });
    if (!(await alice.page.isVisible(tid('members-panel')))) await alice.page.click(tid('members-toggle'));
    await alice.page.click(tid('add-member-button'));
    await alice.page.fill(tid('user-search-input'), B.username);
    await alice.page.click(`${tid('user-search-result')}[data-username="${B.username}"] ${tid('user-search-pick')}`);
    const bobRow = alice.page.locator(`${tid('members-panel')} ${tid('member')}[data-user-id]`, { hasText: B.username });
    await bobRow.waitFor({ timeout: 15_000 });
    // Bob sees the room once the room list is fetched again
    await bob.page.reload();
    await waitConnected(bob.page);
    await bob.page.locator(`${tid('sidebar')} [data-room-id="${secretId}"]`).waitFor({ timeout: 20_000 });
    await alice.page.locator(`${tid('member')}[data-username="${B.username}"] ${tid('member-remove-button')}`).click();
    await bobRow.waitFor({ state: 'detached', timeout: 15_000 });
    await bob.page.reload();
    await waitConnected(bob.page);
    await bob.page.waitForSelector(`${tid('sidebar')} [data-room-id="${roomId}"]`);
    assert.equal(await bob.page.locator(`${tid('sidebar')} [data-room-id="${secretId}"]`).count(), 0);
  });

  step('loads older pages when scrolling up (50 per page, in order, once)', async () => {
    const hist = `history-${uniq}`;
    await createRoom(alice.page, hist);
    const texts = Array.from({ length: 63 }, (_, i) => `history message ${String(i + 1).padStart(2, '0')}`);
    for (const t of texts) await send(alice.page, t);
    await waitSent(alice.page, texts.slice(-1), 30_000);
    await joinRoom(bob.page, hist);
    await waitForTexts(bob.page, texts.slice(-1));
    const scroller = bob.page.locator(tid('message-scroll'));
    for (let i = 0; i < 10; i++) {
      const shown = (await messageTexts(bob.page)).filter((t) => t.startsWith('history message'));
      if (shown.length >= texts.length) break;
      await scroller.evaluate((el) => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); });
      await bob.page.waitForTimeout(400);
    }
    const shown = (await messageTexts(bob.page)).filter((t) => t.startsWith('history message'));
    assert.deepEqual(shown, texts);
    assertSeqOrdered(await messageRows(bob.page), 'bob');
  });

  step('shows a length counter near the 4,000-character limit', async () => {
    const box = alice.page.locator(tid('composer-input'));
    await box.fill('x'.repeat(3990));
    assert.match(await alice.page.textContent(tid('char-counter')), /3,990\s*\/\s*4,000/);
    assert.equal(await alice.page.isEnabled(tid('send-button')), true);
    await box.fill('x'.repeat(4001));
    assert.equal(await alice.page.isEnabled(tid('send-button')), false);
    await box.fill('');
    assert.equal(await alice.page.locator(tid('char-counter')).count(), 0);
  });

  step('saves screenshots of the chat view (desktop 1280x800 and phone 390x844)', async () => {
    // a fresh room with a short, natural conversation makes a readable picture
    const room = `design-review-${uniq.slice(-4)}`;
    await createRoom(alice.page, room, { description: 'Weekly design review: mockups, feedback and decisions' });
    await joinRoom(bob.page, room);
    const talk = [
      [alice, 'Morning! The new onboarding mockups are up in the shared folder.'],
      [bob, 'Nice, looking now. The progress bar on step 2 is a great touch.'],
      [bob, 'One thing: the "Skip" link is hard to see on small screens.'],
      [alice, 'Good catch. I will bump the contrast and make it a real button.'],
      [alice, 'Can we ship this on Thursday?\nQA needs a day for the 360 px layouts.'],
      [bob, 'Thursday works for me 👍'],
    ];
    for (const [u, text] of talk) {
      await send(u.page, text);
      await waitForTexts(alice.page, [text]);
    }
    await waitForTexts(bob.page, talk.map(([, t]) => t));
    // Keep typing in bursts, as a person does: the first typing frame can arrive before
    // bob's subscription to the new room is live (the client sends one per ~3 s).
    let seen = false;
    for (const burst of ['Sounds good', ', I will', ' update', ' the ticket']) {
      await bob.page.locator(tid('composer-input')).type(burst, { delay: 20 });
      seen = await alice.page
        .waitForFunction(() => !!document.querySelector('[data-testid="typing-indicator"]')?.textContent,
          null, { timeout: 4000 })
        .then(() => true, () => false);
      if (seen) break;
    }
    assert.ok(seen, 'alice never saw bob typing in the new room');
    await alice.page.mouse.move(1, 1);
    const desktop = join(SHOTS, 'desktop-chat.png');
    await alice.page.screenshot({ path: desktop });
    mkdirSync(join(REPO_DIR, 'docs'), { recursive: true });
    copyFileSync(desktop, join(REPO_DIR, 'docs', 'screenshot.png'));
    await bob.page.locator(tid('composer-input')).fill('');
    await bob.page.setViewportSize({ width: 390, height: 844 });
    await bob.page.waitForSelector(tid('menu-button'));
    await bob.page.mouse.move(1, 1);
    await bob.page.locator(tid('composer-input')).blur();
    const phone = join(SHOTS, 'mobile-chat.png');
    await bob.page.screenshot({ path: phone });
    copyFileSync(phone, join(REPO_DIR, 'docs', 'screenshot-phone.png'));
    await bob.page.click(tid('menu-button'));
    await bob.page.waitForTimeout(300);
    await bob.page.screenshot({ path: join(SHOTS, 'mobile-drawer.png') });
    await bob.page.keyboard.press('Escape');
    await bob.page.setViewportSize({ width: 1280, height: 800 });
  });

  step('sends a revoked or invalid session back to the login page with a message', async () => {
    await bob.page.evaluate(() => {
      const s = JSON.parse(localStorage.getItem('chat.session'));
      const b64 = (o) => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
      const exp = Math.floor(Date.now() / 1000) + 3600;
      s.token = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: s.user.id, exp, iat: exp - 7200 })}.forged`;
      localStorage.setItem('chat.session', JSON.stringify(s));
    });
    await bob.page.reload();
    await bob.page.waitForSelector(tid('auth-message'), { timeout: 20_000 });
    assert.match(await bob.page.textContent(tid('auth-message')), /session has expired or was revoked/i);
    assert.equal(await bob.page.evaluate(() => localStorage.getItem('chat.session')), null);
  });
});
