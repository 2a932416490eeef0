// Turns what the server says ({error:{code, message}}, often "field: reason") into
// sentences for people. Pure; unit-tested.

import { ApiError } from './api';

type Context = 'login' | 'register' | 'room' | 'profile' | 'member' | 'generic';

const FIELD_TEXT: Record<string, (reason: string) => string> = {
  email: (r) => (/taken/.test(r) ? 'That email address is already registered. Try logging in.' : 'Please enter a valid email address, like name@example.com.'),
  username: (r) => (/taken/.test(r) ? 'That username is taken. Please choose another one.'
    : 'Usernames are 3 to 32 letters, digits, dots, dashes or underscores.'),
  password: (r) => {
    if (/common/.test(r)) return 'This password is too common. Please choose one that is harder to guess.';
    if (/at least|short/.test(r)) return 'Passwords need at least 8 characters.';
    if (/at most|long|bytes/.test(r)) return 'That password is too long (at most 72 bytes).';
    return 'Please choose another password.';
  },
  name: () => 'Room names are 1 to 100 characters.',
  description: () => 'Descriptions are at most 500 characters.',
  display_name: () => 'Display names are at most 64 characters.',
  avatar_url: () => 'The avatar URL must start with http:// or https://.',
};

/** "email: email address is not valid" -> the field and its reason. */
function splitField(message: string): { field: string; reason: string } | null {
  const m = /^([a-z_]+):\s*(.*)$/i.exec(message.trim());
  return m ? { field: m[1].toLowerCase(), reason: m[2].toLowerCase() } : null;
}

function sentence(s: string): string {
  const t = s.trim();
  if (!t) return t;
  const first = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

/** A message fit to show a person, for an error of any kind. */
export function friendlyError(e: unknown, ctx: Context = 'generic'): string {
  if (!(e instanceof ApiError)) {
    return e instanceof Error && e.message ? sentence(e.message) : 'Something went wrong. Please try again.';
  }
  if (ctx === 'login' && e.status === 401) return 'Wrong email, username or password.';
  if (e.status === 429) {
    const secs = e.retryAfterMs ? Math.ceil(e.retryAfterMs / 1000) : 0;
    return secs > 0 ? `Too many attempts. Please wait ${secs} s and try again.` : 'Too many attempts. Please wait a moment and try again.';
  }
  if (e.status === 0) return e.code === 'aborted' ? 'Cancelled.' : 'Cannot reach the server. Check your connection.';
  if (e.status >= 500) return 'The server is having trouble right now. Please try again in a moment.';
  if (e.status === 401) return 'Your session has ended. Please log in again.';
  if (e.status === 403) return ctx === 'member' ? 'Only the room owner can do that.' : 'You are not allowed to do that.';
  if (e.status === 404) return ctx === 'room' || ctx === 'member' ? 'That room no longer exists, or you are not a member.' : 'Not found.';
  if (e.status === 413) return 'That is too long.';
  if (e.code === 'username_taken') return FIELD_TEXT.username('taken');
  if (e.code === 'email_taken') return FIELD_TEXT.email('taken');
  if (e.status === 409) return 'That username or email is already taken.';
  const f = splitField(e.message);
  if (f && FIELD_TEXT[f.field]) return FIELD_TEXT[f.field](f.reason);
  if (f) return sentence(f.reason);
  return sentence(e.message || 'That did not work.');
}
