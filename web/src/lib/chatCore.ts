// Core of the chat client, without React: loads rooms and history, keeps the
// WebSocket, routes frames into the stores (room messages and the per-user live
// channel: room_added, dm_created, member_removed), sends through the outbox, and
// tells subscribers (React via useSyncExternalStore) when anything changed.

import type { AuthStore } from './auth';
import { Directory } from './directory';
import { checkContent, newClientMsgId } from './format';
import { MessageStore } from './messageStore';
import { Outbox, errorText } from './outbox';
import { createChatSocket, type ChatClientOptions } from './connection';
import type { ReconnectingSocket, ConnState } from './socket';
import { TypingThrottle, TypingTracker } from './typing';
import {
  classifyFrame, type AckFrame, type ErrorFrame, type MemberRemovedFrame, type Profile, type Room, type WireMessage,
} from './types';

/** What the client can say about someone's presence: nothing while it cannot reach the server. */
export type Presence = 'online' | 'offline' | 'unknown';

export const PAGE = 50;
const ROOMS_POLL_MS = 60_000;

export abstract class ChatCore {
  readonly store = new MessageStore();
  readonly dir: Directory;
  me: Profile;
  connection: ConnState = { state: 'connecting', attempt: 0 };
  activeRoomId: string | null = null;
  loading = true;
  loadError: string | null = null;
  notice: { id: number; text: string } | null = null;
  version = 0;

  protected readonly socket: ReconnectingSocket;
  protected readonly outbox: Outbox;
  private readonly typingIn = new TypingTracker();
  private readonly typingOut = new TypingThrottle();
  private listeners = new Set<() => void>();
  private emitQueued = false;
  protected historyInflight = new Map<string, Promise<void>>();
  private subscribed = new Set<string>();
  private initialRooms = new Set<string>();
  protected left = new Set<string>();
  private requestedUsers = new Set<string>();
  private cleanups: Array<() => void> = [];
  private typingTick: ReturnType<typeof setInterval> | null = null;
  private roomsRefreshTimer: ReturnType<typeof setTimeout> | null = null;
  private opens = 0;
  private lastToken: string | null;
  protected stopped = false;
  /** Bumped by every local membership change (join, leave, create, DM). */
  protected roomsEpoch = 0;
  private roomRefreshes = new Set<string>();
  private roomRefreshTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(protected readonly auth: AuthStore, opts: ChatClientOptions = {}) {
    const s = auth.current;
    if (!s) throw new Error('ChatClient needs a session');
    this.me = { id: s.user.id, username: s.user.username, email: s.user.email };
    this.dir = new Directory(s.user.id, opts.storage);
    this.lastToken = s.token;
    this.socket = createChatSocket(auth, opts, {
      onStatus: (st) => {
        this.connection = st;
        this.dir.presence.set(this.me.id, st.state === 'connected');
        this.emit();
      },
      onOpen: () => this.onOpen(),
      onFrame: (data) => this.onFrame(data),
    });
    this.outbox = new Outbox(this.store, (f) => this.socket.send(f), () => this.emit());
  }

  // --- subscription for React ---
  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  getVersion = (): number => this.version;

  protected emit(): void {
    if (this.emitQueued) return;
    this.emitQueued = true;
    queueMicrotask(() => {
      this.emitQueued = false;
      this.version++;
      for (const fn of [...this.listeners]) fn();
    });
  }

  // --- lifecycle ---
  async start(): Promise<void> {
    this.stopped = false;
    this.socket.start();
    const on = (t: EventTarget, ev: string, fn: () => void) => {
      t.addEventListener(ev, fn);
      this.cleanups.push(() => t.removeEventListener(ev, fn));
    };
    if (typeof window !== 'undefined') {
      on(window, 'offline', () => this.socket.goOffline());
      // Back online, or the tab is shown again: retry now rather than wait out the backoff.
      on(window, 'online', () => this.socket.goOnline());
      on(window, 'focus', () => this.activeRoomId && this.markRead(this.activeRoomId));
      on(document, 'visibilitychange', () => {
        if (document.visibilityState !== 'visible') return;
        this.socket.wake();
        if (this.activeRoomId) this.markRead(this.activeRoomId);
      });
    }
    this.cleanups.push(this.auth.subscribe(() => this.onAuthChange()));
    const poll = setInterval(() => void this.refreshRooms().catch(() => undefined), ROOMS_POLL_MS);
    this.cleanups.push(() => clearInterval(poll));

    this.auth.api.me().then(
      (p) => {
        this.me = { ...this.me, ...p };
        this.dir.upsertUser(p);
        this.emit();
      },
      () => undefined,
    );
    try {
      await this.refreshRooms(true);
      this.loadError = null;
    } catch (e) {
      this.loadError = e instanceof Error ? e.message : 'Could not load rooms.';
    } finally {
      this.loading = false;
      this.emit();
    }
  }

  stop(): void {
    this.stopped = true;
    this.socket.stop('logged out');
    for (const c of this.cleanups.splice(0)) c();
    this.outbox.stop();
    if (this.typingTick) clearInterval(this.typingTick);
    if (this.roomsRefreshTimer) clearTimeout(this.roomsRefreshTimer);
    if (this.roomRefreshTimer) clearTimeout(this.roomRefreshTimer);
    this.typingTick = this.roomsRefreshTimer = this.roomRefreshTimer = null;
  }

  reconnectNow(): void {
    this.socket.reconnectNow();
  }

  private onAuthChange(): void {
    const t = this.auth.token;
    if (t && t !== this.lastToken) {
      this.lastToken = t;
      this.socket.send({ type: 'auth', token: t });
    }
  }

  private onOpen(): void {
    this.opens++;
    this.subscribed.clear();
    this.dir.presence.set(this.me.id, true);
    for (const r of this.dir.memberRooms()) void this.syncRoom(r.id);
    this.outbox.resendAll();
    if (this.opens > 1) {
      this.requestedUsers.clear(); // names, avatars and presence may have changed meanwhile
      void this.refreshRooms().catch(() => undefined);
      if (this.activeRoomId) void this.loadMembers(this.activeRoomId);
    }
    this.emit();
  }

  // --- rooms ---
  async refreshRooms(initial = false): Promise<void> {
    const epoch = this.roomsEpoch;
    const list = await this.auth.api.listAllRooms();
    if (this.stopped) return;
    // A join/leave/create happened meanwhile: this list may predate it, so fetch again.
    if (epoch !== this.roomsEpoch) return this.refreshRooms(initial);
    const wasMember = new Set(this.dir.memberRooms().map((r) => r.id));
    this.dir.setRooms(list);
    const now = this.dir.memberRooms();
    for (const r of now) {
      if (initial) this.initialRooms.add(r.id);
      if (this.dir.isDm(r)) this.ensureUser(this.dir.dmPartner(r));
      void this.syncRoom(r.id);
    }
    const nowIds = new Set(now.map((r) => r.id));
    for (const id of wasMember) if (!nowIds.has(id)) this.forgetRoom(id);
    this.emit();
  }

  /** Someone joined/left (a system message): re-read the room and its members, batched. */
  private scheduleRoomRefresh(id: string): void {
    this.roomRefreshes.add(id);
    if (this.roomRefreshTimer) return;
    this.roomRefreshTimer = setTimeout(() => {
      this.roomRefreshTimer = null;
      const ids = [...this.roomRefreshes];
      this.roomRefreshes.clear();
      for (const rid of ids) void this.refreshRoom(rid);
    }, 300);
  }

  private scheduleRoomsRefresh(): void {
    if (this.roomsRefreshTimer) return;
    this.roomsRefreshTimer = setTimeout(() => {
      this.roomsRefreshTimer = null;
      void this.refreshRooms().catch(() => undefined);
    }, 500);
  }

  /**
   * The live channel says we now belong to a room (added by its owner, joined on another
   * device, or a DM someone opened with us): list it, and subscribe from the start so
   * that nothing already posted is missed; what others wrote counts as unread.
   */
  private onRoomAdded(room: Room, dm: boolean): void {
    const id = room.id;
    if (dm) this.dir.markDm(id);
    this.left.delete(id);
    this.dir.setMembership(id, true);
    const r = this.dir.upsertRoom(room);
    this.roomsEpoch++;
    if (this.dir.isDm(r)) this.ensureUser(this.dir.dmPartner(r));
    if (this.dir.readSeqOf(id) === undefined) this.dir.setReadSeq(id, 0);
    if (!this.subscribed.has(id) && this.socket.isOpen) {
      const after = this.store.lastSeq(id) ?? 0;
      if (this.socket.send({ type: 'subscribe', room_id: id, after_seq: after })) this.subscribed.add(id);
    }
    this.emit();
  }

  /** The live channel says we were removed from a room (someone else's removal: re-read it). */
  private onMemberRemoved(f: MemberRemovedFrame): void {
    if (f.user_id !== this.me.id) {
      if (this.dir.rooms.has(f.room_id)) this.scheduleRoomRefresh(f.room_id);
      return;
    }
    const room = this.dir.rooms.get(f.room_id);
    if (!room || !this.dir.isMember(room)) return;
    const name = this.dir.isDm(room) ? 'a conversation' : `#${room.name}`;
    this.left.add(f.room_id);
    this.roomsEpoch++;
    this.dir.setMembership(f.room_id, false);
    if (room.is_private) this.dir.removeRoom(f.room_id);
    else this.dir.upsertRoom({ ...room, members: room.members.filter((m) => m !== this.me.id) });
    this.forgetRoom(f.room_id);
    this.showNotice(`You were removed from ${name}.`);
  }

  protected forgetRoom(id: string): void {
    this.store.dropRoom(id);
    this.subscribed.delete(id);
    if (this.activeRoomId === id) this.activeRoomId = null;
  }

  /** Loads a room's latest history once, then subscribes from its last seq. */
  private async syncRoom(id: string): Promise<void> {
    await this.ensureHistory(id);
    this.subscribeRoom(id);
  }

  private subscribeRoom(id: string): void {
    if (this.stopped || !this.socket.isOpen || this.subscribed.has(id) || this.left.has(id)) return;
    if (!this.dir.isMember(this.dir.rooms.get(id))) return;
    const last = this.store.lastSeq(id);
    const after = last ?? (this.store.isHistoryLoaded(id) ? 0 : undefined);
    const frame = after === undefined ? { type: 'subscribe', room_id: id } : { type: 'subscribe', room_id: id, after_seq: after };
    if (this.socket.send(frame)) this.subscribed.add(id);
  }

  protected ensureHistory(id: string): Promise<void> {
    if (this.store.isHistoryLoaded(id)) return Promise.resolve();
    let p = this.historyInflight.get(id);
    if (!p) {
      p = this.auth.api
        .messages(id, { limit: PAGE })
        .then((page) => {
          const msgs = Array.isArray(page?.messages) ? page.messages : [];
          this.store.addMessages(id, msgs);
          this.store.setHistoryLoaded(id, msgs.length >= PAGE);
          if (this.dir.readSeqOf(id) === undefined) {
            // First visit on this browser: everything counts as read. Otherwise a room we
            // had not seen (a new DM, an invitation) shows its messages as unread.
            const fresh = this.initialRooms.has(id) && !this.dir.hadReadState;
            this.dir.setReadSeq(id, fresh ? this.store.newestSeq(id) ?? 0 : 0);
          }
          this.ensureUsersOf(msgs);
          this.markRead(id);
          this.emit();
        })
        .catch(() => undefined)
        .finally(() => this.historyInflight.delete(id));
      this.historyInflight.set(id, p);
    }
    return p;
  }

  openRoom(id: string | null): void {
    this.activeRoomId = id;
    if (id) {
      void this.syncRoom(id).then(() => this.markRead(id));
      void this.loadMembers(id);
      this.markRead(id);
    }
    this.emit();
  }

  /** Re-reads a room's members (REST); implemented with the room actions. */
  abstract loadMembers(id: string): Promise<void>;
  /** Re-reads a room and its members (REST); implemented with the room actions. */
  abstract refreshRoom(id: string): Promise<void>;

  // --- users ---
  ensureUser(id: string | undefined): void {
    if (!id || this.requestedUsers.has(id)) return;
    this.requestedUsers.add(id);
    this.auth.api.user(id).then(
      (u) => {
        this.dir.upsertUser(u);
        this.emit();
      },
      () => undefined,
    );
  }

  protected ensureUsersOf(msgs: WireMessage[]): void {
    for (const m of msgs) if (m.type !== 'system') this.ensureUser(m.user_id);
  }

  // --- presence ---
  get connected(): boolean {
    return this.connection.state === 'connected';
  }

  /** Someone's presence as far as we know: 'unknown' while we cannot reach the server. */
  presence(userId: string): Presence {
    if (!this.connected) return 'unknown';
    return this.dir.isOnline(userId) ? 'online' : 'offline';
  }

  // --- reading ---
  unread(roomId: string): number {
    const read = this.dir.readSeqOf(roomId);
    return read === undefined ? 0 : this.store.countAfter(roomId, read, this.me.id);
  }

  /** Unread messages over every room we belong to (the tab title shows it). */
  totalUnread(): number {
    let n = 0;
    for (const r of this.dir.memberRooms()) n += this.unread(r.id);
    return n;
  }

  markRead(roomId: string): void {
    if (roomId !== this.activeRoomId) return;
    if (typeof document !== 'undefined' && document.visibilityState === 'hidden') return;
    const seq = this.store.newestSeq(roomId);
    if (seq !== undefined && this.dir.setReadSeq(roomId, seq)) this.emit();
  }

  typingNames(roomId: string): string[] {
    return this.typingIn.typing(roomId);
  }

  // --- sending ---
  /** Sends a message; returns an error text when it cannot even be queued. */
  send(roomId: string, text: string): string | null {
    const chk = checkContent(text);
    if (!chk.ok) return chk.reason;
    if (!this.dir.isMember(this.dir.rooms.get(roomId))) return 'You are not a member of this room.';
    const m = this.store.addPending(roomId, {
      client_msg_id: newClientMsgId(),
      user_id: this.me.id,
      username: this.me.username,
      content: chk.content,
    });
    this.typingOut.reset(roomId);
    this.outbox.transmit(m);
    this.emit();
    return null;
  }

  retry(clientMsgId: string): void {
    this.outbox.retry(clientMsgId);
    this.emit();
  }

  discard(clientMsgId: string): void {
    this.outbox.discard(clientMsgId);
    this.emit();
  }

  /** Call on composer input; sends a typing frame at most every ~3 s per room. */
  notifyTyping(roomId: string): void {
    if (this.socket.isOpen && this.typingOut.shouldSend(roomId)) this.socket.send({ type: 'typing', room_id: roomId });
  }

  // --- incoming frames ---
  private onFrame(data: unknown): void {
    const f = classifyFrame(data);
    switch (f.kind) {
      case 'message':
        return this.onMessage(f.message);
      case 'ack':
        return this.onAck(f.frame);
      case 'error':
        return this.onError(f.frame);
      case 'presence':
        this.dir.presence.set(f.frame.user_id, f.frame.status === 'online');
        return this.emit();
      case 'room_added':
        return this.onRoomAdded(f.frame.room, false);
      case 'dm_created':
        return this.onRoomAdded(f.frame.room, true);
      case 'member_removed':
        return this.onMemberRemoved(f.frame);
      case 'typing':
        if (f.frame.user_id === this.me.id) return;
        this.typingIn.add(f.frame.room_id, f.frame.user_id, this.dir.displayName(f.frame.user_id, f.frame.username));
        this.startTypingTick();
        return this.emit();
      default:
        return;
    }
  }

  private onMessage(m: WireMessage): void {
    const roomId = m.room_id;
    if (this.left.has(roomId)) return;
    const added = this.store.addMessages(roomId, [m]);
    if (!added.length) return;
    this.typingIn.clear(roomId, m.user_id);
    const room = this.dir.rooms.get(roomId);
    if (!room || !this.dir.isMember(room)) this.scheduleRoomsRefresh();
    else if (m.type === 'system') this.scheduleRoomRefresh(roomId);
    if (m.type !== 'system') this.ensureUser(m.user_id);
    this.markRead(roomId);
    this.emit();
  }

  private onAck(f: AckFrame): void {
    const roomId = this.outbox.onAck(f);
    if (roomId) {
      this.markRead(roomId);
      this.emit();
    }
  }

  private onError(f: ErrorFrame): void {
    if (this.outbox.onError(f)) {
      if (f.code === 'not_member') this.scheduleRoomsRefresh();
      this.emit();
      return;
    }
    if (f.code === 'not_member') this.scheduleRoomsRefresh();
    if (f.code === 'rate_limited') return; // e.g. typing frames: nothing to show
    if (f.code === 'token_expired') void this.auth.refresh();
    this.showNotice(errorText(f));
  }

  private startTypingTick(): void {
    if (this.typingTick) return;
    this.typingTick = setInterval(() => {
      if (this.typingIn.prune()) this.emit();
      if (!this.typingIn.active && this.typingTick) {
        clearInterval(this.typingTick);
        this.typingTick = null;
      }
    }, 500);
  }

  showNotice(text: string): void {
    const id = (this.notice?.id ?? 0) + 1;
    this.notice = { id, text };
    this.emit();
    setTimeout(() => {
      if (this.notice?.id === id) {
        this.notice = null;
        this.emit();
      }
    }, 6_000);
  }

  dismissNotice(): void {
    this.notice = null;
    this.emit();
  }
}
