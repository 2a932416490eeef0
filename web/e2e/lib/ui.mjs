// Browser helpers for the e2e tests: launching Debian's chromium through
// playwright-core and driving the chat UI through its data-testid hooks.
import { chromium } from 'playwright-core';

export const tid = (id) => `[data-testid="${id}"]`;

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.E2E_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

export async function newUserPage(browser, baseUrl, viewport = { width: 1280, height: 800 }, extra = {}) {
  const context = await browser.newContext({ baseURL: baseUrl, viewport, ...extra });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const logs = [];
  page.on('console', (m) => logs.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));
  return { context, page, logs };
}

export async function register(page, { username, email, password }) {
  await page.goto('/');
  await page.click(tid('tab-register'));
  await page.fill(tid('register-username'), username);
  await page.fill(tid('register-email'), email);
  await page.fill(tid('register-password'), password);
  await page.click(tid('register-submit'));
  await page.waitForSelector(tid('chat-app'));
  await waitConnected(page);
}

export async function waitConnected(page, timeout = 30_000) {
  // attached, not visible: on a phone the sidebar (and its status line) is a closed drawer
  await page.waitForSelector(`${tid('connection-status')}[data-state="connected"]`, { timeout, state: 'attached' });
}

export async function createRoom(page, name, { isPrivate = false, description = '' } = {}) {
  await showSidebar(page);
  await page.click(tid('new-room-button'));
  await page.fill(tid('room-name-input'), name);
  if (description) await page.fill(tid('room-description-input'), description);
  if (isPrivate) await page.check(tid('room-private-checkbox'));
  await page.click(tid('create-room-submit'));
  await page.waitForSelector(`${tid('chat-view')} ${tid('room-title')}:has-text("${name}")`);
  return page.getAttribute(tid('chat-view'), 'data-room-id');
}

export async function joinRoom(page, name) {
  await showSidebar(page);
  await page.click(tid('browse-rooms-button'));
  const item = page.locator(`${tid('browse-room')}[data-room-name="${name}"]`);
  await item.waitFor();
  await item.locator(tid('join-room-button')).click();
  await page.waitForSelector(`${tid('chat-view')} ${tid('room-title')}:has-text("${name}")`);
}

export async function openRoomById(page, roomId) {
  if (!(await page.isVisible(`${tid('sidebar')} [data-room-id="${roomId}"]`)) && (await page.isVisible(tid('menu-button')))) {
    await page.click(tid('menu-button')); // phone: the room list is in the drawer
  }
  await page.click(`${tid('sidebar')} [data-room-id="${roomId}"]`);
  await page.waitForSelector(`${tid('chat-view')}[data-room-id="${roomId}"]`);
}

/** Logs in through the form with an email or a username. */
export async function login(page, loginName, password) {
  await page.waitForSelector(tid('login-form'));
  await page.fill(tid('login-email'), loginName);
  await page.fill(tid('login-password'), password);
  await page.click(tid('login-submit'));
}

/** Opens the drawer on a phone when the sidebar's buttons are hidden in it. */
export async function showSidebar(page) {
  if (!(await page.isVisible(tid('browse-rooms-button'))) && (await page.isVisible(tid('menu-button')))) {
    await page.click(tid('menu-button'));
    await page.waitForSelector(tid('browse-rooms-button'), { state: 'visible' });
  }
}

/** Types a message and presses Enter. */
export async function send(page, text) {
  const box = page.locator(tid('composer-input'));
  await box.fill(text);
  await box.press('Enter');
}

/** Texts of the text messages shown, in display order. */
export function messageTexts(page) {
  return page.$$eval(`${tid('message')} ${tid('message-content')}`, (els) => els.map((e) => e.textContent));
}

/** [{seq, status, text}] of the shown text messages. */
export function messageRows(page) {
  return page.$$eval(tid('message'), (els) =>
    els.map((e) => ({
      seq: e.getAttribute('data-seq') ? Number(e.getAttribute('data-seq')) : null,
      status: e.getAttribute('data-status'),
      text: e.querySelector('[data-testid="message-content"]')?.textContent ?? '',
    })),
  );
}

/** Waits until every text is shown (exact match). */
export async function waitForTexts(page, texts, timeout = 20_000) {
  await page.waitForFunction(
    (want) => {
      const have = new Set(
        [...document.querySelectorAll('[data-testid="message"] [data-testid="message-content"]')].map((e) => e.textContent),
      );
      return want.every((t) => have.has(t));
    },
    texts,
    { timeout },
  );
}

/** Waits until the messages with these texts are acked (status sent). */
export async function waitSent(page, texts, timeout = 20_000) {
  await page.waitForFunction(
    (want) => {
      const rows = [...document.querySelectorAll('[data-testid="message"]')];
      return want.every((t) =>
        rows.some((r) => r.getAttribute('data-status') === 'sent' &&
          r.querySelector('[data-testid="message-content"]')?.textContent === t));
    },
    texts,
    { timeout },
  );
}
