// End-to-end tests of issue 13's first-hour fixes, against the real stack, with
// alice on a desktop (1280x800) and bob on a phone (390x844, touch): own messages
// stand out, rooms have URLs (reload, back/forward, pasted links, after login), the
// phone's room header shows a lost connection with "Retry now", reconnects happen at
// once on `online`/visibility, grouped messages show their time on tap and days are
// separated, presence is unknown while disconnected, DMs have no Leave or owner tag,
// errors are worded for people, the tab title counts unread messages, the phone's
// members panel can be closed, and common passwords are refused.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PASSWORD, person, scenario, uniqueId } from './lib/scenario.mjs';
import {
  createRoom, joinRoom, login, openRoomById, register, send, showSidebar, tid, waitConnected, waitForTexts, waitSent,
} from './lib/ui.mjs';

const uniq = uniqueId();
const A = person('alice', uniq);
const B = person('bob', uniq);
const C = person('carol', uniq);

const pathOf = (page) => new URL(page.url()).pathname;

scenario('first-hour rough edges (e2e, desktop + 390x844 phone)', { users: { alice: 'desktop', bob: 'phone' } }, (s) => {
  let alice;
  let bob;
  let roomId;
  let otherRoomId;
  const room = `ux-${uniq}`;
  const other = `ux-other-${uniq}`;

  s.step('registration refuses a common password, in the browser and on the server (point 9)', async () => {
    ({ alice, bob } = s.users);
    const page = alice.page;
    await page.goto('/');
    await page.click(tid('tab-register'));
    await page.fill(tid('register-username'), A.username);
    await page.fill(tid('register-email'), A.email);
    await page.fill(tid('register-password'), 'Password1');
    const asked = [];
    const onRequest = (r) => r.url().includes('/api/auth/register') && asked.push(r.url());
    page.on('request', onRequest);
    await page.click(tid('register-submit'));
    await page.waitForSelector(tid('auth-error'));
    page.off('request', onRequest);
    // refused in the browser, from the shipped list, in plain words
    assert.equal(await page.textContent(tid('auth-error')),
      'This password is too common. Please choose one that is harder to guess.');
    assert.deepEqual(asked, [], 'the browser refuses it without asking the server');
    assert.equal(await page.isVisible(tid('chat-app')), false);
    // the server refuses it too, whatever client sends it
    const res = await page.evaluate(async (u) => {
      const r = await fetch('/api/auth/register', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ username: `${u}_x`, email: `${u}_x@example.test`, password: 'iloveyou' }),
      });
      return { status: r.status, body: await r.json() };
    }, A.username);
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'validation_error');
    assert.match(res.body.error.message, /^password: .*too common/);
  });

  s.step('words server errors for people, never "field: reason" (point 8)', async () => {
    const page = alice.page;
    await page.fill(tid('register-email'), 'a..b@example.com'); // passes the browser's check, not the server's
    await page.fill(tid('register-password'), PASSWORD);
    await page.click(tid('register-submit'));
    await page.waitForFunction(() => /valid email/.test(document.querySelector('[data-testid="auth-error"]')?.textContent ?? ''));
    const text = await page.textContent(tid('auth-error'));
    assert.equal(text, 'Please enter a valid email address, like name@example.com.');
    assert.doesNotMatch(text, /email:/);
    // the login box takes an email or a username, and says so
    await page.click(tid('tab-login'));
    const label = await page.locator(`${tid('login-form')} label`).first().textContent();
    assert.match(label, /Email or username/);
    assert.equal(await page.getAttribute(tid('login-email'), 'type'), 'text');
    await login(page, `nobody_${uniq}`, 'whatever-password');
    await page.waitForSelector(tid('auth-error'));
    assert.equal(await page.textContent(tid('auth-error')), 'Wrong email, username or password.');
  });

  s.step('registers alice (desktop) and bob (phone); both share a room', async () => {
    await register(alice.page, A);
    await register(bob.page, B);
    roomId = await createRoom(alice.page, room, { description: 'Rough edges' });
    otherRoomId = await createRoom(alice.page, other);
    await joinRoom(bob.page, room);
    await joinRoom(bob.page, other);
    await openRoomById(alice.page, roomId);
    await openRoomById(bob.page, roomId);
  });

  s.step('marks own messages at a glance (point 2)', async () => {
    await send(alice.page, 'this one is mine');
    await waitForTexts(bob.page, ['this one is mine']);
    await send(bob.page, 'and this one is bob\'s');
    await waitForTexts(alice.page, ['and this one is bob\'s']);
    await waitSent(alice.page, ['this one is mine']);
    const rows = await alice.page.$$eval(tid('message'), (els) => els.map((e) => ({
      text: e.querySelector('[data-testid="message-content"]')?.textContent,
      mine: e.getAttribute('data-mine'),
      author: e.querySelector('[data-testid="message-author"]')?.textContent,
      bg: getComputedStyle(e).backgroundColor,
      edge: getComputedStyle(e).boxShadow,
    })));
    const mine = rows.find((r) => r.text === 'this one is mine');
    const theirs = rows.find((r) => r.text === 'and this one is bob\'s');
    assert.equal(mine.mine, 'true');
    assert.equal(theirs.mine, 'false');
    assert.equal(mine.author, 'You');
    assert.equal(theirs.author, B.username);
    assert.notEqual(mine.bg, theirs.bg, 'own messages have their own background');
    assert.notEqual(mine.edge, theirs.edge, 'own messages have an accent edge');
  });

  s.step('shows the time of a grouped message on tap, and a day separator (point 6, phone)', async () => {
    const page = bob.page;
    await send(page, 'first of a group');
    await send(page, 'second of a group');
    await waitSent(page, ['first of a group', 'second of a group']);
    const row = page.locator(tid('message'), { hasText: 'second of a group' });
    assert.match(await row.getAttribute('class'), /compact/);
    const time = row.locator(tid('message-time'));
    assert.equal(await time.isVisible(), false, 'hidden until asked for');
    await row.locator(tid('message-content')).tap();
    await time.waitFor({ state: 'visible', timeout: 3000 });
    assert.match(await time.textContent(), /\d{1,2}[:.]\d{2}/);
    await row.locator(tid('message-content')).tap();
    await time.waitFor({ state: 'hidden', timeout: 3000 });
    const days = await page.$$eval(tid('day-separator'), (els) => els.map((e) => e.textContent));
    assert.deepEqual(days, ['Today']);
  });

  s.step('gives rooms URLs: reload, back/forward, and links (point 3)', async () => {
    const page = alice.page;
    assert.equal(pathOf(page), `/room/${roomId}`);
    await page.reload();
    await page.waitForSelector(`${tid('chat-view')}[data-room-id="${roomId}"]`);
    await openRoomById(page, otherRoomId);
    assert.equal(pathOf(page), `/room/${otherRoomId}`);
    await page.goBack();
    await page.waitForSelector(`${tid('chat-view')}[data-room-id="${roomId}"]`);
    assert.equal(pathOf(page), `/room/${roomId}`);
    await page.goForward();
    await page.waitForSelector(`${tid('chat-view')}[data-room-id="${otherRoomId}"]`);
    // a pasted link opens the room directly, also on the phone
    await bob.page.goto(`/room/${otherRoomId}`);
    await bob.page.waitForSelector(`${tid('chat-view')}[data-room-id="${otherRoomId}"]`);
    await waitConnected(bob.page);
    // an unknown room: a notice, and home
    await bob.page.goto(`/room/${'0'.repeat(24)}`);
    await bob.page.waitForSelector(tid('notice'));
    await bob.page.waitForFunction(() => location.pathname === '/');
    await bob.page.waitForSelector(tid('notice'), { state: 'detached', timeout: 10_000 }); // and it goes away
    await openRoomById(bob.page, roomId);
  });

  s.step('a link opened before logging in opens the room after login (point 3)', async () => {
    const carol = await s.newUser('desktop');
    s.users.carol = carol;
    await carol.page.goto(`/room/${roomId}`);
    await carol.page.waitForSelector(tid('auth-page'));
    await carol.page.click(tid('tab-register'));
    await carol.page.fill(tid('register-username'), C.username);
    await carol.page.fill(tid('register-email'), C.email);
    await carol.page.fill(tid('register-password'), C.password);
    await carol.page.click(tid('register-submit'));
    // not a member yet: the public room is offered, then opened
    await carol.page.waitForSelector(`${tid('join-prompt')}[data-room-id="${roomId}"]`);
    assert.equal(pathOf(carol.page), `/room/${roomId}`);
    await carol.page.click(tid('join-prompt-button'));
    await carol.page.waitForSelector(`${tid('chat-view')}[data-room-id="${roomId}"]`);
    await waitForTexts(carol.page, ['this one is mine']);
    // and a member who logs in lands in the room of the link
    await carol.page.click(tid('logout-button'));
    await carol.page.goto(`/room/${roomId}`);
    await login(carol.page, C.email, C.password);
    await carol.page.waitForSelector(`${tid('chat-view')}[data-room-id="${roomId}"]`);
    await carol.context.close();
    delete s.users.carol;
  });

  s.step('counts unread messages in the tab title (point 8)', async () => {
    await openRoomById(alice.page, roomId);
    assert.equal(await alice.page.title(), 'Chat');
    await openRoomById(bob.page, otherRoomId);
    await send(bob.page, 'unread one');
    await send(bob.page, 'unread two');
    await alice.page.waitForFunction(() => document.title === '(2) Chat', null, { timeout: 15_000 });
    await openRoomById(alice.page, otherRoomId);
    await alice.page.waitForFunction(() => document.title === 'Chat');
  });

  s.step('DMs have no Leave button and no owner tag; the DM has its own URL (point 8)', async () => {
    const page = alice.page;
    if (!(await page.isVisible(tid('members-panel')))) await page.click(tid('members-toggle'));
    await page.click(`${tid('member')}[data-username="${B.username}"] ${tid('member-dm-button')}`);
    await page.waitForFunction((rid) => document.querySelector('[data-testid="chat-view"]')?.getAttribute('data-room-id') !== rid, otherRoomId);
    const dmId = await page.getAttribute(tid('chat-view'), 'data-room-id');
    assert.equal(pathOf(page), `/dm/${dmId}`);
    assert.equal(await page.locator(tid('leave-room-button')).count(), 0);
    if (!(await page.isVisible(tid('members-panel')))) await page.click(tid('members-toggle'));
    await page.waitForSelector(`${tid('members-panel')} ${tid('member')}`);
    assert.equal(await page.locator(`${tid('members-panel')} .role-tag`).count(), 0);
    await send(page, 'hello in private');
    await waitSent(page, ['hello in private']);
    // in a room the owner keeps the Leave button and the tag
    await openRoomById(page, roomId);
    assert.equal(await page.locator(tid('leave-room-button')).count(), 1);
    assert.equal(await page.locator(`${tid('members-panel')} .role-tag`).count(), 1);
  });

  s.step('the phone\'s members panel can be closed (button and Escape) (point 8)', async () => {
    // enough members that the list is longer than the phone's screen
    await alice.page.evaluate(async ({ rid, tag, password }) => {
      const post = async (path, body, token) => {
        const r = await fetch(path, {
          method: 'POST', body: JSON.stringify(body),
          headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
        });
        if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
        return r.json();
      };
      await Promise.all(Array.from({ length: 24 }, async (_, i) => {
        const name = `m${i}_${tag}`;
        await post('/api/auth/register', { username: name, email: `${name}@example.test`, password });
        const { token } = await post('/api/auth/login', { email: `${name}@example.test`, password });
        await post(`/api/rooms/${rid}/join`, {}, token);
      }));
    }, { rid: roomId, tag: uniq, password: PASSWORD });
    const page = bob.page;
    await openRoomById(page, roomId);
    await page.click(tid('members-toggle'));
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="members-panel"] [data-testid="member"]').length >= 26);
    // scrolled to the end of the list, the close button is still on screen and not covered
    await page.locator(`${tid('members-panel')} ${tid('member')}`).last().scrollIntoViewIfNeeded();
    const close = page.getByRole('button', { name: 'Close members' });
    const box = await close.boundingBox();
    assert.ok(box && box.x >= 0 && box.y >= 0 && box.x + box.width <= 390 && box.y + box.height <= 844, 'close button on screen');
    const hit = await page.evaluate(({ x, y }) => document.elementFromPoint(x, y)?.closest('[aria-label="Close members"]') !== null,
      { x: box.x + box.width / 2, y: box.y + box.height / 2 });
    assert.ok(hit, 'nothing covers the close button');
    await close.tap();
    await page.waitForSelector(tid('members-panel'), { state: 'detached' });
    await page.click(tid('members-toggle'));
    await page.waitForSelector(tid('members-panel'));
    await page.keyboard.press('Escape');
    await page.waitForSelector(tid('members-panel'), { state: 'detached' });
  });

  s.step('shows presence as unknown while disconnected, and the phone header says so (points 4, 7)', async () => {
    const page = bob.page;
    await page.click(tid('members-toggle'));
    await page.waitForSelector(`${tid('members-panel')} ${tid('presence-dot')}[data-presence="online"]`);
    await bob.context.setOffline(true);
    await page.waitForSelector(`${tid('connection-status')}[data-state="offline"]`, { state: 'attached' });
    await page.waitForSelector(`${tid('members-panel')} ${tid('presence-dot')}[data-presence="unknown"]`);
    const states = await page.$$eval(tid('presence-dot'), (els) => els.map((e) => e.getAttribute('data-presence')));
    assert.ok(states.length >= 2);
    assert.deepEqual([...new Set(states)], ['unknown'], 'no green dot while we cannot reach the server');
    await page.keyboard.press('Escape');
    const header = page.locator(`${tid('chat-view')} ${tid('header-connection-status')}`);
    await header.waitFor({ state: 'visible' });
    assert.match(await header.textContent(), /network/i);
    assert.equal(await page.isVisible(tid('connection-status')), false, 'the sidebar copy is in the closed drawer');
    await page.screenshot({ path: join(s.shots, 'phone-offline.png') });
    await bob.context.setOffline(false);
    await waitConnected(page);
    await header.waitFor({ state: 'detached' });
    await page.click(tid('members-toggle'));
    await page.waitForSelector(`${tid('members-panel')} ${tid('presence-dot')}[data-presence="online"]`);
    await page.keyboard.press('Escape');
  });

  s.step('"Retry now" in the phone header reconnects, and so does the online event (points 4, 5)', async () => {
    const page = bob.page;
    let refuse = true;
    await page.routeWebSocket(/\/ws/, (ws) => {
      if (refuse) ws.close({ code: 1011, reason: 'test: server unreachable' });
      else ws.connectToServer();
    });
    // drop the live socket; every new one is refused until we say so
    await bob.context.setOffline(true);
    await bob.context.setOffline(false);
    const retry = page.locator(`${tid('chat-view')} ${tid('header-reconnect-now')}`);
    await retry.waitFor({ state: 'visible', timeout: 20_000 });
    refuse = false;
    const t0 = Date.now();
    await retry.tap();
    await waitConnected(page, 5000);
    assert.ok(Date.now() - t0 < 3000, 'reconnected right after the tap');
    // after a long outage the backoff is seconds long; the browser's online event skips it
    refuse = true;
    await page.evaluate(() => window.dispatchEvent(new Event('offline')));
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    await page.waitForFunction(() => {
      const m = /in (\d+) s/.exec(document.querySelector('[data-testid="header-connection-status"]')?.textContent ?? '');
      return m && Number(m[1]) >= 2;
    }, null, { timeout: 30_000 });
    refuse = false;
    const t1 = Date.now();
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    await waitConnected(page, 5000);
    assert.ok(Date.now() - t1 < 1500, `reconnected ${Date.now() - t1} ms after the online event`);
    // the same for the tab becoming visible again
    refuse = true;
    await page.evaluate(() => window.dispatchEvent(new Event('offline')));
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    await page.waitForFunction(() => {
      const m = /in (\d+) s/.exec(document.querySelector('[data-testid="header-connection-status"]')?.textContent ?? '');
      return m && Number(m[1]) >= 2;
    }, null, { timeout: 30_000 });
    refuse = false;
    const t2 = Date.now();
    await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    await waitConnected(page, 5000);
    assert.ok(Date.now() - t2 < 1500, `reconnected ${Date.now() - t2} ms after the tab became visible`);
    await send(page, 'back after the outage');
    await waitForTexts(alice.page, ['back after the outage']);
  });

  s.step('the phone drawer lists rooms as links', async () => {
    await showSidebar(bob.page);
    const href = await bob.page.getAttribute(`${tid('sidebar')} [data-room-id="${roomId}"]`, 'href');
    assert.equal(href, `/room/${roomId}`);
    await bob.page.keyboard.press('Escape');
  });
});
