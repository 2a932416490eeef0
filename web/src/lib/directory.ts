// What the client knows about rooms, users, presence, members (paged), direct-message
// rooms, memberships and read positions (persisted per user in localStorage).

import type { Member, Room, UserSummary } from './types';

export class Directory {
  rooms = new Map<string, Room>();
  users = new Map<string, UserSummary>();
  members = new Map<string, Member[]>();
  /** Total members of a room as the last members page said. */
  memberTotals = new Map<string, number>();
  presence = new Map<string, boolean>();
  private dmIds = new Set<string>();
  /** Rooms we know we belong to (joined, created, added): a room's `members` holds only the first 100. */
  private joined = new Set<string>();
  private readSeq: Record<string, number> = {};
  /** Whether this browser had read positions for the user before this session. */
  readonly hadReadState: boolean;

  constructor(
    private readonly meId: string,
    private readonly storage: Storage | undefined = globalThis.localStorage,
  ) {
    this.dmIds = new Set(this.load<string[]>('dms', []));
    this.joined = new Set(this.load<string[]>('joined', []));
    this.readSeq = this.load<Record<string, number>>('read', {});
    this.hadReadState = Object.keys(this.readSeq).length > 0;
  }

  private key(name: string): string {
    return `chat.${name}.${this.meId}`;
  }

  private load<T>(name: string, fallback: T): T {
    try {
      const raw = this.storage?.getItem(this.key(name));
      return raw ? (JSON.parse(raw) as T) : fallback;
    } catch {
      return fallback;
    }
  }

  private save(name: string, value: unknown): void {
    try {
      this.storage?.setItem(this.key(name), JSON.stringify(value));
    } catch {
      /* storage unavailable */
    }
  }

  // --- rooms ---
  setRooms(list: Room[]): void {
    const next = new Map<string, Room>();
    for (const r of list) if (r && typeof r.id === 'string') next.set(r.id, normalizeRoom(r));
    this.rooms = next;
  }

  upsertRoom(room: Room): Room {
    const r = normalizeRoom(room);
    this.rooms.set(r.id, r);
    return r;
  }

  /**
   * Whether the user belongs to the room: named among its members, or a private room
   * the server listed for us, or one we joined whose member list was cut at 100.
   */
  isMember(room: Room | undefined): boolean {
    if (!room) return false;
    if (room.members.includes(this.meId) || room.is_private) return true;
    return this.joined.has(room.id) && this.memberCount(room) > room.members.length;
  }

  /** Records (persistently) that the user joined or left a room. */
  setMembership(roomId: string, member: boolean): void {
    if (this.joined.has(roomId) === member) return;
    if (member) this.joined.add(roomId);
    else this.joined.delete(roomId);
    this.save('joined', [...this.joined]);
  }

  /** How many members a room has: `member_count` when the server sends it. */
  memberCount(room: Room): number {
    if (typeof room.member_count === 'number' && room.member_count >= 0) return room.member_count;
    return Math.max(room.members.length, this.memberTotals.get(room.id) ?? 0);
  }

  removeRoom(roomId: string): void {
    this.rooms.delete(roomId);
    this.members.delete(roomId);
    this.memberTotals.delete(roomId);
    this.setMembership(roomId, false);
  }

  /** Rooms the user belongs to: channels by name, then direct messages. */
  memberRooms(): Room[] {
    return [...this.rooms.values()].filter((r) => this.isMember(r)).sort(byName);
  }

  /** Public rooms the user could join. */
  joinableRooms(): Room[] {
    return [...this.rooms.values()].filter((r) => !r.is_private && !this.isMember(r)).sort(byName);
  }

  markDm(roomId: string): void {
    if (this.dmIds.has(roomId)) return;
    this.dmIds.add(roomId);
    this.save('dms', [...this.dmIds]);
  }

  /** A direct-message room: made by POST /api/dms here, flagged by the server, or named like one. */
  isDm(room: Room): boolean {
    if (this.dmIds.has(room.id) || room.is_dm === true || room.type === 'dm' || room.type === 'direct') return true;
    return room.is_private && room.members.length === 2 && /^(dm|direct)[:_-]/i.test(room.name);
  }

  /** The other person of a DM. */
  dmPartner(room: Room): string | undefined {
    return room.members.find((id) => id !== this.meId) ?? room.members[0];
  }

  // --- users and presence ---
  upsertUser(u: UserSummary): void {
    if (!u || typeof u.id !== 'string') return;
    const prev = this.users.get(u.id);
    this.users.set(u.id, { ...prev, ...u });
    if (typeof u.online === 'boolean') this.presence.set(u.id, u.online);
  }

  displayName(userId: string, fallback?: string): string {
    const u = this.users.get(userId);
    return (u?.display_name && u.display_name.trim()) || u?.username || fallback || 'Unknown user';
  }

  /** A members page: offset 0 replaces what we had, a later page appends to it. */
  setMembers(roomId: string, list: Member[], total?: number, offset = 0): void {
    const prev = offset > 0 ? this.members.get(roomId) ?? [] : [];
    const seen = new Set(prev.map((m) => m.id));
    this.members.set(roomId, prev.concat(list.filter((m) => m && typeof m.id === 'string' && !seen.has(m.id))));
    if (typeof total === 'number') this.memberTotals.set(roomId, total);
    else this.memberTotals.delete(roomId);
    for (const m of list) {
      if (typeof m.online === 'boolean') this.presence.set(m.id, m.online);
      if (!this.users.has(m.id)) this.users.set(m.id, { id: m.id, username: m.username });
    }
  }

  isOnline(userId: string): boolean {
    return this.presence.get(userId) ?? false;
  }

  /** Whether more members exist than the pages loaded so far hold. */
  hasMoreMembers(roomId: string): boolean {
    const total = this.memberTotals.get(roomId);
    const have = this.members.get(roomId)?.length ?? 0;
    return typeof total === 'number' && have < total;
  }

  // --- read positions ---
  readSeqOf(roomId: string): number | undefined {
    return this.readSeq[roomId];
  }

  setReadSeq(roomId: string, seq: number): boolean {
    if ((this.readSeq[roomId] ?? -1) >= seq) return false;
    this.readSeq[roomId] = seq;
    this.save('read', this.readSeq);
    return true;
  }
}

function normalizeRoom(r: Room): Room {
  return {
    ...r,
    name: typeof r.name === 'string' ? r.name : '(unnamed)',
    members: Array.isArray(r.members) ? r.members.filter((m) => typeof m === 'string') : [],
    is_private: !!r.is_private,
  };
}

function byName(a: Room, b: Room): number {
  return a.name.localeCompare(b.name, undefined, { sensitivity: 'base' });
}
