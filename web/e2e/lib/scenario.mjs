// One e2e scenario per file: starts the real stack and chromium once, gives each named
// user a browser context (desktop 1280x800 or phone 390x844, touch), and runs steps in
// order. A failing step stops the dependent steps after it (they fail fast instead of
// timing out); a step marked { independent: true } does not.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { WEB_DIR, startStack } from './stack.mjs';
import { launchBrowser, newUserPage } from './ui.mjs';

export const SHOTS = join(WEB_DIR, 'e2e', 'screenshots');
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };
export const PASSWORD = 'correct-horse-battery';

export function uniqueId() {
  return `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
}

/** Credentials for a test user. */
export function person(name, uniq) {
  return { username: `${name}_${uniq}`, email: `${name}_${uniq}@example.test`, password: PASSWORD };
}

/**
 * scenario(title, { users: { alice: 'desktop', bob: 'phone' }, contextOptions }, (s) => { s.step(...) })
 * s.users.alice = { context, page, logs, viewport } once the first test ran.
 */
export function scenario(title, { users = { alice: 'desktop' }, gateways = 2, contextOptions = {} } = {}, body) {
  describe(title, { timeout: 600_000 }, () => {
    const s = { stack: null, browser: null, users: {}, shots: SHOTS };
    let setupError = null;
    let brokenBy = null;

    s.newUser = async (viewportKind = 'desktop') => {
      const phone = viewportKind === 'phone';
      const u = await newUserPage(s.browser, s.stack.httpUrl, phone ? PHONE : DESKTOP, {
        ...(phone ? { hasTouch: true, isMobile: true, deviceScaleFactor: 2 } : {}),
        ...contextOptions,
      });
      return { ...u, viewport: phone ? PHONE : DESKTOP };
    };

    s.step = (name, fn, opts = {}) =>
      it(name, { timeout: opts.timeout ?? 120_000 }, async (t) => {
        if (setupError || !s.stack) throw new Error(`stack not running: ${String(setupError?.message ?? 'not started').split('\n')[0]}`);
        // E2E_INDEPENDENT_STEPS=1 runs every step whatever failed before (to see which
        // steps an older build fails, with CHAT_WEB_ROOT pointing at that build).
        if (brokenBy && !opts.independent && !process.env.E2E_INDEPENDENT_STEPS) throw new Error(`not run: the earlier step "${brokenBy}" failed`);
        try {
          return await fn(t);
        } catch (e) {
          if (!opts.independent) brokenBy = name;
          const tag = name.replace(/[^a-z0-9]+/gi, '-').slice(0, 50);
          for (const [who, u] of Object.entries(s.users)) {
            await u?.page?.screenshot({ path: join(SHOTS, `failed-${tag}-${who}.png`) }).catch(() => undefined);
          }
          throw e;
        }
      });

    it('starts the stack and chromium', { timeout: 150_000 }, async () => {
      try {
        mkdirSync(SHOTS, { recursive: true });
        s.stack = await startStack({ gateways });
        s.browser = await launchBrowser();
        for (const [who, kind] of Object.entries(users)) s.users[who] = await s.newUser(kind);
      } catch (e) {
        setupError = e;
        throw e;
      }
    });

    after(async () => {
      try {
        for (const [who, u] of Object.entries(s.users)) {
          if (u?.logs?.length && (process.env.E2E_VERBOSE || brokenBy)) console.log(`--- ${who}\n${u.logs.slice(-50).join('\n')}`);
        }
        await s.browser?.close();
      } finally {
        await s.stack?.stop();
      }
    }, { timeout: 60_000 });

    body(s);
  });
}
