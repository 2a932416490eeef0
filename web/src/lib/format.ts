// Pure display helpers: initials and colours for avatars, safe avatar URLs,
// local-time formatting and message content normalisation/length.

export const MAX_MESSAGE_CHARS = 4000;

/** Only http(s) URLs are ever used as an image source. */
export function safeAvatarUrl(url: string | null | undefined): string | null {
  if (!url || typeof url !== 'string') return null;
  const u = url.trim();
  if (!/^https?:\/\//i.test(u)) return null;
  try {
    const parsed = new URL(u);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null;
  } catch {
    return null;
  }
}

/** One or two letters for an avatar placeholder. */
export function initials(name: string | null | undefined): string {
  const n = (name ?? '').trim();
  if (!n) return '?';
  const words = n.split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  if (words.length === 0) return '?';
  const first = Array.from(words[0])[0] ?? '?';
  const second = words.length > 1 ? Array.from(words[1])[0] ?? '' : '';
  return (first + second).toUpperCase();
}

/** A stable colour for a user id (hue from a string hash), dark enough for white initials (WCAG AA at any hue). */
export function colorFor(id: string | null | undefined): string {
  let h = 2166136261;
  for (const ch of id ?? '') {
    h ^= ch.codePointAt(0) ?? 0;
    h = Math.imul(h, 16777619);
  }
  const hue = Math.abs(h) % 360;
  return `hsl(${hue} 60% 28%)`;
}

/** Number of characters as the server counts them (Unicode code points). */
export function charCount(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/**
 * Prepares composer text for sending: CRLF to LF, control characters other
 * than newline and tab removed, surrounding blank lines and trailing spaces trimmed.
 */
export function normalizeContent(s: string): string {
  return s
    .replace(/\r\n?/g, '\n')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g, '')
    .replace(/^\s*\n/, '')
    .trimEnd();
}

export type ContentCheck = { ok: true; content: string } | { ok: false; reason: string };

export function checkContent(raw: string): ContentCheck {
  const content = normalizeContent(raw);
  if (!content.trim()) return { ok: false, reason: 'Message is empty.' };
  const n = charCount(content);
  if (n > MAX_MESSAGE_CHARS) return { ok: false, reason: `Message is too long (${n}/${MAX_MESSAGE_CHARS}).` };
  return { ok: true, content };
}

function parseTime(ts: string | number | Date): Date | null {
  const d = ts instanceof Date ? ts : new Date(ts);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** "14:05" in the user's locale and time zone. */
export function formatTime(ts: string): string {
  const d = parseTime(ts);
  return d ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '';
}

/** Full local date and time, for tooltips. */
export function formatFull(ts: string): string {
  const d = parseTime(ts);
  return d ? d.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' }) : '';
}

/** Local calendar day key, to draw day separators. */
export function dayKey(ts: string): string {
  const d = parseTime(ts);
  return d ? `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}` : '';
}

/**
 * The day separator's label: "Today", "Yesterday", the weekday within the last week
 * ("Monday"), the date this year ("Mon, 3 Jun"), else with the year ("3 Jun 2024").
 */
export function dayLabel(ts: string, now = new Date(), locale?: string): string {
  const d = parseTime(ts);
  if (!d) return '';
  const start = (x: Date) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const diff = Math.round((start(now) - start(d)) / 86_400_000);
  const loc = locale ? [locale] : [];
  if (diff === 0) return 'Today';
  if (diff === 1) return 'Yesterday';
  if (diff > 1 && diff < 7) return d.toLocaleDateString(loc, { weekday: 'long' });
  if (d.getFullYear() === now.getFullYear()) return d.toLocaleDateString(loc, { weekday: 'short', month: 'short', day: 'numeric' });
  return d.toLocaleDateString(loc, { year: 'numeric', month: 'short', day: 'numeric' });
}

/** The tab title: "(3) Chat" with unread messages, else "Chat". */
export function documentTitle(unread: number, base = 'Chat'): string {
  if (!Number.isFinite(unread) || unread <= 0) return base;
  return `(${unread > 99 ? '99+' : Math.floor(unread)}) ${base}`;
}

/** A v4 UUID: crypto.randomUUID where available (secure contexts), else getRandomValues. */
export function newClientMsgId(): string {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID();
  const b = new Uint8Array(16);
  if (c && typeof c.getRandomValues === 'function') c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
