// Unit tests of the small pure helpers: typing, formatting, JWT expiry, frame parsing.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthStore, decodeJwt, isExpired, needsRefresh, saveSession } from './auth';
import { charCount, checkContent, colorFor, initials, newClientMsgId, safeAvatarUrl } from './format';
import { classifyFrame } from './types';
import { TypingThrottle, TypingTracker, typingText } from './typing';

function jwt(claims: object): string {
  const b = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b({ alg: 'HS256', typ: 'JWT' })}.${b(claims)}.sig`;
}

describe('typing', () => {
  it('shows a typist for 5 s after the last frame', () => {
    const t = new TypingTracker(5000);
    t.add('r', 'u1', 'bob', 0);
    expect(t.typing('r', 4999)).toEqual(['bob']);
    t.add('r', 'u1', 'bob', 3000);
    expect(t.typing('r', 7999)).toEqual(['bob']);
    expect(t.typing('r', 8000)).toEqual([]);
    expect(t.prune(8000)).toBe(true);
    expect(t.active).toBe(false);
  });

  it('throttles our own typing frames to one per 3 s per room', () => {
    const th = new TypingThrottle(3000);
    expect(th.shouldSend('r', 0)).toBe(true);
    expect(th.shouldSend('r', 1000)).toBe(false);
    expect(th.shouldSend('other', 1000)).toBe(true);
    expect(th.shouldSend('r', 3000)).toBe(true);
    th.reset('r');
    expect(th.shouldSend('r', 3001)).toBe(true);
  });

  it('words the indicator', () => {
    expect(typingText(['bob'])).toBe('bob is typing…');
    expect(typingText(['a', 'b'])).toBe('a and b are typing…');
    expect(typingText(['a', 'b', 'c', 'd'])).toBe('Several people are typing…');
  });
});

describe('format', () => {
  it('accepts only http(s) avatar URLs', () => {
    expect(safeAvatarUrl('https://example.com/a.png')).toBe('https://example.com/a.png');
    expect(safeAvatarUrl('HTTP://x.org/a')).toBe('http://x.org/a');
    expect(safeAvatarUrl('javascript:alert(1)')).toBeNull();
    expect(safeAvatarUrl('data:image/png;base64,AAAA')).toBeNull();
    expect(safeAvatarUrl('//evil.com/x')).toBeNull();
    expect(safeAvatarUrl('')).toBeNull();
    expect(safeAvatarUrl(null)).toBeNull();
  });

  it('makes initials and a stable colour', () => {
    expect(initials('alice')).toBe('A');
    expect(initials('Bob Smith')).toBe('BS');
    expect(initials('john.doe')).toBe('JD');
    expect(initials('')).toBe('?');
    expect(initials('Alice <i>Liddell</i>')).toBe('AI');
    expect(initials('<<>>')).toBe('?');
    expect(initials('émile zola')).toBe('ÉZ');
    expect(colorFor('abc')).toBe(colorFor('abc'));
    expect(colorFor('abc')).toMatch(/^hsl\(\d+ 60% 28%\)$/);
    // white initials stay readable (WCAG AA, 4.5:1) on every hue
    const lum = (h: number) => {
      const [s, l] = [0.6, 0.28];
      const f = (n: number) => {
        const k = (n + h / 30) % 12;
        const c = l - s * Math.min(l, 1 - l) * Math.max(-1, Math.min(k - 3, 9 - k, 1));
        return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(0) + 0.7152 * f(8) + 0.0722 * f(4);
    };
    for (let h = 0; h < 360; h++) expect(1.05 / (lum(h) + 0.05)).toBeGreaterThanOrEqual(4.5);
  });

  it('checks message content like the server', () => {
    expect(checkContent('   ')).toEqual({ ok: false, reason: 'Message is empty.' });
    expect(checkContent('a\r\nb\u0007  ')).toEqual({ ok: true, content: 'a\nb' });
    expect(checkContent('\tindented')).toEqual({ ok: true, content: '\tindented' });
    expect(checkContent('x'.repeat(4000)).ok).toBe(true);
    expect(checkContent('x'.repeat(4001)).ok).toBe(false);
    expect(charCount('😀é')).toBe(2);
    expect(checkContent('😀'.repeat(4000)).ok).toBe(true);
  });

  it('makes v4 UUIDs', () => {
    const a = newClientMsgId();
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(newClientMsgId()).not.toBe(a);
  });
});

describe('JWT expiry', () => {
  it('decodes claims and decides when to refresh', () => {
    const now = 1_700_000_000_000;
    const iat = now / 1000;
    const day = jwt({ sub: 'u1', iat, exp: iat + 86400 });
    expect(decodeJwt(day)?.sub).toBe('u1');
    expect(needsRefresh(day, now)).toBe(false);
    expect(needsRefresh(day, now + 86400_000 - 9 * 60_000)).toBe(true);
    const minute = jwt({ iat, exp: iat + 60 });
    expect(needsRefresh(minute, now + 30_000)).toBe(false);
    expect(needsRefresh(minute, now + 46_000)).toBe(true);
    expect(isExpired(minute, now + 60_000)).toBe(true);
    expect(decodeJwt('garbage')).toBeNull();
  });
});

describe('frames', () => {
  it('classifies server frames', () => {
    const m = { id: 'a', room_id: 'r', user_id: 'u', username: 'x', content: 'c', type: 'text', timestamp: 't', seq: 1 };
    expect(classifyFrame(m).kind).toBe('message');
    expect(classifyFrame({ ...m, type: 'system' })).toMatchObject({ kind: 'message', message: { type: 'system' } });
    expect(classifyFrame({ type: 'message', message: m }).kind).toBe('message');
    expect(classifyFrame({ type: 'ack', client_msg_id: 'c', id: 'a', seq: 2, timestamp: 't' }).kind).toBe('ack');
    expect(classifyFrame({ type: 'presence', user_id: 'u', status: 'online' }).kind).toBe('presence');
    expect(classifyFrame({ type: 'typing', room_id: 'r', user_id: 'u', username: 'x' }).kind).toBe('typing');
    expect(classifyFrame({ type: 'error', code: 'not_member' })).toMatchObject({ kind: 'error', frame: { code: 'not_member' } });
    expect(classifyFrame({ type: 'pong' }).kind).toBe('pong');
    expect(classifyFrame({ type: 'whatever' }).kind).toBe('other');
    expect(classifyFrame(null).kind).toBe('other');
  });
});

describe('logging out', () => {
  afterEach(() => vi.unstubAllGlobals());

  function memoryStorage(): Storage {
    const m = new Map<string, string>();
    return {
      get length() { return m.size; },
      clear: () => m.clear(),
      getItem: (k: string) => m.get(k) ?? null,
      key: (i: number) => [...m.keys()][i] ?? null,
      removeItem: (k: string) => void m.delete(k),
      setItem: (k: string, v: string) => void m.set(k, v),
    };
  }

  /** A stored live session, and a fetch that records what is called. */
  function signedIn() {
    const token = jwt({ sub: 'u1', exp: Math.floor(Date.now() / 1000) + 3600 });
    const storage = memoryStorage();
    saveSession({ token, user: { id: 'u1', username: 'ann' } } as never, storage);
    const fetchMock = vi.fn(async () => new Response(null, { status: 204 }));
    vi.stubGlobal('fetch', fetchMock);
    return { token, fetchMock, auth: new AuthStore(storage) };
  }

  it('revokes the token on the server, then forgets the session', () => {
    const { token, fetchMock, auth } = signedIn();
    auth.logout();
    expect(auth.current).toBeNull();
    expect(fetchMock).toHaveBeenCalledTimes(1);
    const [url, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/api/auth/logout');
    expect(init.method).toBe('POST');
    expect((init.headers as Record<string, string>).Authorization).toBe(`Bearer ${token}`);
  });

  it('does not call the server when the session ended on its own', () => {
    const { fetchMock, auth } = signedIn();
    auth.expire();
    expect(auth.current).toBeNull();
    expect(fetchMock).not.toHaveBeenCalled();
  });
});
