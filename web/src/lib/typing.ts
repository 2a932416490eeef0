// Typing indicators: who is typing in which room (expires ~5 s after the last
// typing frame) and a throttle for our own typing frames (~every 3 s).

export const TYPING_SHOW_MS = 5_000;
export const TYPING_SEND_EVERY_MS = 3_000;

interface Typist {
  username: string;
  until: number;
}

export class TypingTracker {
  private rooms = new Map<string, Map<string, Typist>>();

  constructor(private readonly showMs = TYPING_SHOW_MS) {}

  /** A typing frame arrived. */
  add(roomId: string, userId: string, username: string, now = Date.now()): void {
    let r = this.rooms.get(roomId);
    if (!r) this.rooms.set(roomId, (r = new Map()));
    r.set(userId, { username, until: now + this.showMs });
  }

  /** The user sent a message: they stopped typing. Returns whether anything changed. */
  clear(roomId: string, userId: string): boolean {
    return this.rooms.get(roomId)?.delete(userId) ?? false;
  }

  /** Drops expired entries; returns whether anything changed. */
  prune(now = Date.now()): boolean {
    let changed = false;
    for (const [roomId, r] of this.rooms) {
      for (const [uid, t] of r) {
        if (t.until <= now) {
          r.delete(uid);
          changed = true;
        }
      }
      if (r.size === 0) this.rooms.delete(roomId);
    }
    return changed;
  }

  /** Usernames typing in a room now, sorted for a stable display. */
  typing(roomId: string, now = Date.now()): string[] {
    const r = this.rooms.get(roomId);
    if (!r) return [];
    return [...r.values()].filter((t) => t.until > now).map((t) => t.username).sort();
  }

  get active(): boolean {
    return this.rooms.size > 0;
  }
}

/** "alice is typing…", "alice and bob are typing…", "Several people are typing…". */
export function typingText(names: string[]): string {
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  if (names.length === 3) return `${names[0]}, ${names[1]} and ${names[2]} are typing…`;
  return 'Several people are typing…';
}

/** Says whether to send a typing frame now for a room (at most once per interval). */
export class TypingThrottle {
  private last = new Map<string, number>();

  constructor(private readonly everyMs = TYPING_SEND_EVERY_MS) {}

  shouldSend(roomId: string, now = Date.now()): boolean {
    const prev = this.last.get(roomId);
    if (prev !== undefined && now - prev < this.everyMs) return false;
    this.last.set(roomId, now);
    return true;
  }

  /** After sending a message, the next keystroke may announce typing again. */
  reset(roomId: string): void {
    this.last.delete(roomId);
  }
}
