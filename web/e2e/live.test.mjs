// End-to-end tests that need the server's per-user live channel (room_added,
// dm_created, member_removed frames on every socket of a user) and login by username
// (POST /api/auth/login with the username in `email`): issue 13 points 1 and 8.
// Each step is independent, so one missing server feature does not hide the others.
import assert from 'node:assert/strict';
import { person, scenario, uniqueId } from './lib/scenario.mjs';
import { createRoom, login, openRoomById, register, send, tid, waitConnected, waitForTexts, waitSent } from './lib/ui.mjs';

const uniq = uniqueId();
const A = person('alice', uniq);
const B = person('bob', uniq);

/** Marks the page so that a reload (which would lose the mark) can be detected. */
const markPage = (page) => page.evaluate(() => { window.__noReload = 'still here'; });
const assertNotReloaded = async (page) =>
  assert.equal(await page.evaluate(() => window.__noReload), 'still here', 'the page was reloaded');

scenario('per-user live channel and username login (e2e, needs the server side)', { users: { alice: 'desktop', bob: 'desktop' } }, (s) => {
  let alice;
  let bob;

  s.step('registers alice and bob', async () => {
    ({ alice, bob } = s.users);
    await register(alice.page, A);
    await register(bob.page, B);
    await markPage(bob.page);
  });

  s.step("bob sees alice's first DM within 1 s, with an unread badge, without a reload (point 1)", async () => {
    await alice.page.click(tid('new-dm-button'));
    await alice.page.fill(tid('user-search-input'), B.username);
    await alice.page.click(`${tid('user-search-result')}[data-username="${B.username}"] ${tid('user-search-pick')}`);
    await alice.page.waitForSelector(`${tid('chat-view')} ${tid('room-title')}:has-text("${B.username}")`);
    const dmId = await alice.page.getAttribute(tid('chat-view'), 'data-room-id');
    await send(alice.page, 'hi bob, first DM');
    await waitSent(alice.page, ['hi bob, first DM']);
    const t0 = Date.now();
    const entry = bob.page.locator(`${tid('sidebar')} ${tid('dm-item')}[data-room-id="${dmId}"]`);
    await entry.locator(tid('unread-badge')).waitFor({ timeout: 1000 });
    const took = Date.now() - t0;
    assert.ok(took <= 1000, `took ${took} ms`);
    assert.equal((await entry.locator(tid('unread-badge')).textContent()).trim(), '1');
    assert.match(await entry.textContent(), new RegExp(A.username));
    await assertNotReloaded(bob.page);
    await entry.click();
    await waitForTexts(bob.page, ['hi bob, first DM']);
    await send(bob.page, 'hi alice');
    await waitForTexts(alice.page, ['hi alice']);
  }, { independent: true });

  s.step('a private room bob is added to appears at once, and goes when he is removed (point 1)', async () => {
    const secret = `live-private-${uniq}`;
    const secretId = await createRoom(alice.page, secret, { isPrivate: true });
    await send(alice.page, 'posted before bob was added');
    await waitSent(alice.page, ['posted before bob was added']);
    if (!(await alice.page.isVisible(tid('members-panel')))) await alice.page.click(tid('members-toggle'));
    await alice.page.click(tid('add-member-button'));
    await alice.page.fill(tid('user-search-input'), B.username);
    await alice.page.click(`${tid('user-search-result')}[data-username="${B.username}"] ${tid('user-search-pick')}`);
    const entry = bob.page.locator(`${tid('sidebar')} [data-room-id="${secretId}"]`);
    await entry.locator(tid('unread-badge')).waitFor({ timeout: 3000 });
    await assertNotReloaded(bob.page);
    await openRoomById(bob.page, secretId);
    await waitForTexts(bob.page, ['posted before bob was added']);
    await send(alice.page, 'live in the private room');
    await waitForTexts(bob.page, ['live in the private room']);
    await alice.page.locator(`${tid('member')}[data-username="${B.username}"] ${tid('member-remove-button')}`).click();
    await entry.waitFor({ state: 'detached', timeout: 5000 });
    await bob.page.waitForSelector(tid('notice'));
    assert.match(await bob.page.textContent(tid('notice')), /removed/);
    assert.equal(new URL(bob.page.url()).pathname, '/');
    await assertNotReloaded(bob.page);
  }, { independent: true });

  s.step('logs in with the username (point 8)', async () => {
    await bob.page.click(tid('logout-button'));
    await login(bob.page, B.username, B.password);
    await bob.page.waitForSelector(tid('chat-app'), { timeout: 10_000 });
    await waitConnected(bob.page);
    assert.equal(await bob.page.textContent(tid('me-name')), B.username);
  }, { independent: true });
});
