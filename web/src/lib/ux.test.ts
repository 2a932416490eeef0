// Unit tests of the helpers behind the first-hour fixes: room URLs, friendly error
// texts, the common-password rule, day separators, grouping, and the tab title.
import { describe, expect, it } from 'vitest';
import { ApiError } from './api';
import { friendlyError } from './errors';
import { dayLabel, documentTitle } from './format';
import type { ChatMessage } from './messageStore';
import { COMMON_PASSWORD_MESSAGE, isCommonPassword, parsePasswordList, passwordProblem } from './passwordPolicy';
import { parseRoute, roomPath } from './route';
import { buildTimeline } from './timeline';

const ID = '0123456789abcdef01234567';

describe('room URLs', () => {
  it('parses /room/<id> and /dm/<id>, and nothing else', () => {
    expect(parseRoute(`/room/${ID}`)).toEqual({ kind: 'room', roomId: ID });
    expect(parseRoute(`/dm/${ID}/`)).toEqual({ kind: 'room', roomId: ID });
    expect(parseRoute('/')).toEqual({ kind: 'home' });
    expect(parseRoute('/room/')).toEqual({ kind: 'home' });
    expect(parseRoute(`/room/${ID.toUpperCase()}`)).toEqual({ kind: 'home' }); // ids are lower-case hex
    expect(parseRoute('/room/%E0%A4%A')).toEqual({ kind: 'home' });
    expect(parseRoute(`/room/${ID}/extra`)).toEqual({ kind: 'home' });
  });

  it('formats paths that parse back', () => {
    expect(roomPath(ID)).toBe(`/room/${ID}`);
    expect(roomPath(ID, true)).toBe(`/dm/${ID}`);
    expect(roomPath(null)).toBe('/');
    expect(parseRoute(roomPath(ID, true))).toEqual({ kind: 'room', roomId: ID });
  });
});

describe('friendly errors', () => {
  const err = (status: number, code: string, message: string, retry?: number) => new ApiError(status, code, message, retry);

  it('never shows the server\'s "field: reason" wording', () => {
    expect(friendlyError(err(400, 'validation_error', 'email: email address is not valid'), 'register'))
      .toBe('Please enter a valid email address, like name@example.com.');
    expect(friendlyError(err(400, 'validation_error', 'password: password must be at least 8 characters'), 'register'))
      .toBe('Passwords need at least 8 characters.');
    expect(friendlyError(err(400, 'validation_error', 'password: this password is too common, choose one that is harder to guess')))
      .toBe(COMMON_PASSWORD_MESSAGE);
    expect(friendlyError(err(400, 'validation_error', 'username: must be 3-32 characters')))
      .toMatch(/^Usernames are 3 to 32/);
    expect(friendlyError(err(400, 'validation_error', 'limit: must be a number'))).toBe('Must be a number.');
  });

  it('words logins, conflicts, limits and outages', () => {
    expect(friendlyError(err(401, 'invalid_credentials', 'wrong email or password'), 'login'))
      .toBe('Wrong email, username or password.');
    expect(friendlyError(err(409, 'username_taken', 'username is already taken'))).toMatch(/username is taken/i);
    expect(friendlyError(err(409, 'email_taken', 'email is already taken'))).toMatch(/already registered/);
    expect(friendlyError(err(429, 'rate_limited', 'too many', 30_000))).toBe('Too many attempts. Please wait 30 s and try again.');
    expect(friendlyError(err(503, 'service_unavailable', 'mongo down'))).toMatch(/server is having trouble/);
    expect(friendlyError(err(0, 'network_error', 'x'))).toMatch(/Cannot reach the server/);
    expect(friendlyError(err(403, 'forbidden', 'not the owner'), 'member')).toBe('Only the room owner can do that.');
    expect(friendlyError(new Error('boom'))).toBe('Boom.');
    expect(friendlyError('??')).toBe('Something went wrong. Please try again.');
  });
});

describe('common passwords', () => {
  it('parses one password per line, case-folded', () => {
    expect([...parsePasswordList('Password\r\n\n letmein99 \n')]).toEqual(['password', 'letmein99']);
  });

  it('refuses passwords from the list shared with the server', async () => {
    expect(await isCommonPassword('password')).toBe(true);
    expect(await isCommonPassword('PASSWORD123')).toBe(true);
    expect(await isCommonPassword('iloveyou')).toBe(true);
    expect(await isCommonPassword('correct-horse-battery')).toBe(false);
    expect(await passwordProblem('password')).toBe(COMMON_PASSWORD_MESSAGE);
    expect(await passwordProblem('Qwertyuiop')).toBe(COMMON_PASSWORD_MESSAGE);
    expect(await passwordProblem('short')).toMatch(/at least 8/);
    expect(await passwordProblem('é'.repeat(40))).toMatch(/too long/);
    expect(await passwordProblem('correct-horse-battery')).toBeNull();
  });
});

describe('day separators and grouping', () => {
  const now = new Date(2025, 5, 12, 15, 0); // Thursday 12 June 2025, local time
  const at = (d: number, h: number, m = 0, mo = 5, y = 2025) => new Date(y, mo, d, h, m).toISOString();

  it('labels days as Today, Yesterday, a weekday within the week, else a date', () => {
    expect(dayLabel(at(12, 9), now, 'en-GB')).toBe('Today');
    expect(dayLabel(at(11, 23, 59), now, 'en-GB')).toBe('Yesterday');
    expect(dayLabel(at(9, 8), now, 'en-GB')).toBe('Monday');
    expect(dayLabel(at(2, 8), now, 'en-GB')).toBe('Mon 2 Jun');
    expect(dayLabel(at(2, 8, 0, 5, 2024), now, 'en-GB')).toBe('2 Jun 2024');
    expect(dayLabel('not a date', now)).toBe('');
  });

  it('puts one separator before each day and groups a run of one author within 5 minutes', () => {
    let n = 0;
    const m = (user: string, ts: string, type: 'text' | 'system' = 'text'): ChatMessage => ({
      key: `k${++n}`, room_id: 'r', user_id: user, username: user, content: `c${n}`, type, timestamp: ts, seq: n, status: 'sent',
    });
    const rows = buildTimeline([
      m('a', at(11, 23, 58)), m('a', at(12, 0, 1)), // a new day breaks the group
      m('a', at(12, 0, 3)), m('a', at(12, 0, 9)), // 6 minutes later: a new group
      m('b', at(12, 0, 10)), m('b', at(12, 0, 10), 'system'), m('b', at(12, 0, 11)),
    ], now);
    expect(rows.map((r) => (r.kind === 'day' ? r.label : r.compact ? '+' : r.msg.user_id))).toEqual([
      'Yesterday', 'a', 'Today', 'a', '+', 'a', 'b', 'b', 'b',
    ]);
  });
});

describe('tab title', () => {
  it('shows the unread count', () => {
    expect(documentTitle(0)).toBe('Chat');
    expect(documentTitle(3)).toBe('(3) Chat');
    expect(documentTitle(250)).toBe('(99+) Chat');
  });
});
