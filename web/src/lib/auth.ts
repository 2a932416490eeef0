// Session keeping: token + user in localStorage, JWT expiry decoding, timely
// refresh (POST /api/auth/refresh) and the "session expired" hand-off to login.

import { Api, ApiError } from './api';
import type { AuthUser } from './types';

export interface Session {
  token: string;
  user: AuthUser;
}

const KEY = 'chat.session';

export function loadSession(storage: Storage | undefined = globalThis.localStorage): Session | null {
  try {
    const raw = storage?.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw);
    if (s && typeof s.token === 'string' && s.user && typeof s.user.id === 'string') return s as Session;
  } catch {
    /* corrupt entry */
  }
  return null;
}

export function saveSession(s: Session | null, storage: Storage | undefined = globalThis.localStorage): void {
  try {
    if (s) storage?.setItem(KEY, JSON.stringify(s));
    else storage?.removeItem(KEY);
  } catch {
    /* storage full or disabled: the session lives in memory only */
  }
}

/** Claims of a JWT payload, unverified (the server verifies). */
export function decodeJwt(token: string): { exp?: number; iat?: number; sub?: string } | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
    const json = decodeURIComponent(
      Array.from(atob(padded), (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).join(''),
    );
    const claims = JSON.parse(json);
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

/** Whether to refresh now: less than a quarter of the lifetime (at most 10 min) left. */
export function needsRefresh(token: string, nowMs = Date.now()): boolean {
  const c = decodeJwt(token);
  if (!c || typeof c.exp !== 'number') return false;
  const expMs = c.exp * 1000;
  const lifetime = typeof c.iat === 'number' ? (c.exp - c.iat) * 1000 : 60 * 60_000;
  const threshold = Math.min(10 * 60_000, Math.max(5_000, lifetime * 0.25));
  return expMs - nowMs < threshold;
}

export function isExpired(token: string, nowMs = Date.now()): boolean {
  const c = decodeJwt(token);
  return !!c && typeof c.exp === 'number' && c.exp * 1000 <= nowMs;
}

export const EXPIRED_MESSAGE = 'Your session has expired or was revoked. Please log in again.';

type Listener = () => void;

/** Holds the current session and tells listeners when it changes. */
export class AuthStore {
  private readonly storage: Storage | undefined;
  private session: Session | null;
  private listeners = new Set<Listener>();
  private refreshing: Promise<boolean> | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  /** Message for the login page (e.g. why the user was logged out). */
  message: string | null = null;
  readonly api: Api;

  constructor(storage?: Storage) {
    this.storage = storage ?? globalThis.localStorage;
    this.session = loadSession(this.storage);
    if (this.session && isExpired(this.session.token)) {
      this.session = null;
      saveSession(null, this.storage);
      this.message = EXPIRED_MESSAGE;
    }
    this.api = new Api({
      getToken: () => this.session?.token ?? null,
      onUnauthorized: () => this.expire(),
    });
  }

  get current(): Session | null {
    return this.session;
  }

  get token(): string | null {
    return this.session?.token ?? null;
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(): void {
    for (const fn of [...this.listeners]) fn();
  }

  private set(s: Session | null): void {
    this.session = s;
    saveSession(s, this.storage);
    this.emit();
  }

  async login(email: string, password: string): Promise<void> {
    const res = await this.api.login(email.trim(), password);
    this.message = null;
    this.set({ token: res.token, user: res.user });
  }

  async register(username: string, email: string, password: string): Promise<void> {
    await this.api.register(username.trim(), email.trim(), password);
    await this.login(email, password);
  }

  logout(message: string | null = null): void {
    if (this.session && message === null) {
      // the user chose to log out: revoke the token on the server too (best effort; the
      // request takes the token before the session is cleared below)
      void this.api.logout().catch(() => undefined);
    }
    this.message = message;
    this.set(null);
  }

  /** The server refused our token: back to the login page with a clear reason. */
  expire(): void {
    if (!this.session) return;
    this.logout(EXPIRED_MESSAGE);
  }

  updateUser(patch: Partial<AuthUser>): void {
    if (this.session) this.set({ ...this.session, user: { ...this.session.user, ...patch } });
  }

  /**
   * Gets a fresh token. True on success; false if the server could not be
   * reached (try later). A 401 ends the session (via onUnauthorized).
   */
  refresh(): Promise<boolean> {
    if (!this.session) return Promise.resolve(false);
    if (!this.refreshing) {
      this.refreshing = this.api
        .refresh()
        .then((res) => {
          if (this.session && res && typeof res.token === 'string') {
            this.set({ ...this.session, token: res.token });
            return true;
          }
          return false;
        })
        .catch((e) => {
          if (e instanceof ApiError && e.status === 401) return false;
          return false;
        })
        .finally(() => {
          this.refreshing = null;
        });
    }
    return this.refreshing;
  }

  /** A usable token (refreshed first when close to expiry), or null if the session is over. */
  async freshToken(): Promise<string | null> {
    const s = this.session;
    if (!s) return null;
    if (needsRefresh(s.token)) {
      const ok = await this.refresh();
      if (!ok && this.session && isExpired(this.session.token)) {
        throw new Error('token expired and could not be refreshed yet');
      }
    }
    return this.session?.token ?? null;
  }

  /** Checks every 30 s (and when the tab becomes visible) whether to refresh. */
  startAutoRefresh(): () => void {
    const check = () => {
      const t = this.session?.token;
      if (t && needsRefresh(t)) void this.refresh();
    };
    this.timer = setInterval(check, 30_000);
    const onVis = () => document.visibilityState === 'visible' && check();
    document.addEventListener('visibilitychange', onVis);
    check();
    return () => {
      if (this.timer) clearInterval(this.timer);
      document.removeEventListener('visibilitychange', onVis);
    };
  }
}
