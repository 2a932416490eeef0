// Per-room message state: ordering by seq, de-duplication, pending/ack of own
// messages and resume bookkeeping (last seq seen from the server, per room).

import type { AckFrame, WireMessage } from './types';

export type MessageStatus = 'sent' | 'pending' | 'failed';

export interface ChatMessage {
  /** Stable React key: server id, else client_msg_id. */
  key: string;
  id?: string;
  room_id: string;
  user_id: string;
  username: string;
  content: string;
  type: 'text' | 'system';
  timestamp: string;
  seq?: number;
  client_msg_id?: string;
  status: MessageStatus;
  /** Why a message failed, or a note while it waits (e.g. rate limited). */
  error?: string;
}

interface PendingEntry {
  msg: ChatMessage;
  /** Seq of a server message believed to be this one's echo (ack not yet seen). */
  echoSeq?: number;
}

interface RoomState {
  confirmed: ChatMessage[]; // sorted by seq ascending, unique seq
  seqs: Set<number>;
  pending: PendingEntry[]; // send order
  /** Highest seq received as a message (history or stream), never from an ack. */
  resumeSeq?: number;
  hasOlder: boolean;
  historyLoaded: boolean;
  view: ChatMessage[] | null;
}

export interface NewPending {
  client_msg_id: string;
  user_id: string;
  username: string;
  content: string;
  timestamp?: string;
}

function emptyRoom(): RoomState {
  return { confirmed: [], seqs: new Set(), pending: [], hasOlder: true, historyLoaded: false, view: null };
}

export class MessageStore {
  private rooms = new Map<string, RoomState>();
  private pendingRoom = new Map<string, string>(); // client_msg_id -> room id

  private room(roomId: string): RoomState {
    let r = this.rooms.get(roomId);
    if (!r) {
      r = emptyRoom();
      this.rooms.set(roomId, r);
    }
    return r;
  }

  /**
   * Adds server messages (history page, replay or live). Duplicates by seq are
   * ignored; order is by seq whatever the arrival order. Returns the messages
   * that were new.
   */
  addMessages(roomId: string, msgs: WireMessage[]): ChatMessage[] {
    const r = this.room(roomId);
    const added: ChatMessage[] = [];
    for (const m of msgs) {
      if (typeof m.seq !== 'number' || !Number.isFinite(m.seq)) continue;
      if (m.room_id && m.room_id !== roomId) continue;
      if (r.resumeSeq === undefined || m.seq > r.resumeSeq) r.resumeSeq = m.seq;
      if (r.seqs.has(m.seq)) continue;
      const msg: ChatMessage = {
        key: m.id || `${roomId}:${m.seq}`,
        id: m.id,
        room_id: roomId,
        user_id: m.user_id,
        username: m.username,
        content: m.content,
        type: m.type === 'system' ? 'system' : 'text',
        timestamp: m.timestamp,
        seq: m.seq,
        client_msg_id: m.client_msg_id,
        status: 'sent',
      };
      insertSorted(r.confirmed, msg);
      r.seqs.add(m.seq);
      added.push(msg);
      this.matchEcho(r, msg);
    }
    if (added.length) r.view = null;
    return added;
  }

  /** A server message from us may arrive before its ack: hide the pending copy. */
  private matchEcho(r: RoomState, msg: ChatMessage): void {
    if (msg.type !== 'text' || r.pending.length === 0) return;
    if (msg.client_msg_id) {
      const i = r.pending.findIndex((p) => p.msg.client_msg_id === msg.client_msg_id);
      if (i >= 0) {
        this.pendingRoom.delete(msg.client_msg_id);
        r.pending.splice(i, 1);
        r.view = null;
      }
      return;
    }
    const p = r.pending.find(
      (e) => e.echoSeq === undefined && e.msg.user_id === msg.user_id && e.msg.content === msg.content,
    );
    if (p) {
      // Kept (hidden) until its ack, so it is still resent after a reconnect.
      p.echoSeq = msg.seq;
      r.view = null;
    }
  }

  /** Records an outgoing message as pending, shown after the confirmed ones. */
  addPending(roomId: string, p: NewPending): ChatMessage {
    const r = this.room(roomId);
    const msg: ChatMessage = {
      key: p.client_msg_id,
      room_id: roomId,
      user_id: p.user_id,
      username: p.username,
      content: p.content,
      type: 'text',
      timestamp: p.timestamp ?? new Date().toISOString(),
      client_msg_id: p.client_msg_id,
      status: 'pending',
    };
    r.pending.push({ msg });
    this.pendingRoom.set(p.client_msg_id, roomId);
    r.view = null;
    return msg;
  }

  /**
   * Applies an ack: the pending message becomes a confirmed one with the
   * server's id/seq (or is dropped if that seq is already shown). An ack does
   * not move the resume point: earlier messages of others may still be in
   * flight. Returns the room id, or null for an unknown client_msg_id.
   */
  ack(frame: AckFrame): string | null {
    const roomId = this.pendingRoom.get(frame.client_msg_id);
    if (!roomId) return null;
    const r = this.room(roomId);
    const i = r.pending.findIndex((e) => e.msg.client_msg_id === frame.client_msg_id);
    this.pendingRoom.delete(frame.client_msg_id);
    if (i < 0) return null;
    const [entry] = r.pending.splice(i, 1);
    if (!r.seqs.has(frame.seq)) {
      const msg: ChatMessage = {
        ...entry.msg,
        key: frame.id || entry.msg.key,
        id: frame.id,
        seq: frame.seq,
        timestamp: frame.timestamp || entry.msg.timestamp,
        status: 'sent',
        error: undefined,
      };
      insertSorted(r.confirmed, msg);
      r.seqs.add(frame.seq);
    }
    r.view = null;
    return roomId;
  }

  /** Marks a pending message as failed (it stays visible with a reason). */
  fail(clientMsgId: string, reason: string): string | null {
    return this.update(clientMsgId, { status: 'failed', error: reason });
  }

  /** Sets a note on a still-pending message (e.g. "rate limited, retrying"). */
  note(clientMsgId: string, note: string | undefined): string | null {
    return this.update(clientMsgId, { error: note });
  }

  /** Puts a failed message back to pending (to be resent with the same id). */
  retry(clientMsgId: string): ChatMessage | null {
    const roomId = this.update(clientMsgId, { status: 'pending', error: undefined });
    return roomId ? this.findPending(clientMsgId) : null;
  }

  /** Drops a pending or failed message for good. */
  discard(clientMsgId: string): string | null {
    const roomId = this.pendingRoom.get(clientMsgId);
    if (!roomId) return null;
    const r = this.room(roomId);
    r.pending = r.pending.filter((e) => e.msg.client_msg_id !== clientMsgId);
    this.pendingRoom.delete(clientMsgId);
    r.view = null;
    return roomId;
  }

  private update(clientMsgId: string, patch: Partial<ChatMessage>): string | null {
    const roomId = this.pendingRoom.get(clientMsgId);
    if (!roomId) return null;
    const r = this.room(roomId);
    const e = r.pending.find((x) => x.msg.client_msg_id === clientMsgId);
    if (!e) return null;
    e.msg = { ...e.msg, ...patch };
    r.view = null;
    return roomId;
  }

  findPending(clientMsgId: string): ChatMessage | null {
    const roomId = this.pendingRoom.get(clientMsgId);
    if (!roomId) return null;
    return this.room(roomId).pending.find((e) => e.msg.client_msg_id === clientMsgId)?.msg ?? null;
  }

  /** Every message still waiting for an ack (not failed), oldest first per room. */
  unacked(): ChatMessage[] {
    const out: ChatMessage[] = [];
    for (const r of this.rooms.values()) {
      for (const e of r.pending) if (e.msg.status === 'pending') out.push(e.msg);
    }
    return out;
  }

  /** What the chat view shows: confirmed by seq, then visible pending ones. */
  messages(roomId: string): ChatMessage[] {
    const r = this.rooms.get(roomId);
    if (!r) return EMPTY;
    if (!r.view) {
      const visible = r.pending.filter((e) => e.echoSeq === undefined).map((e) => e.msg);
      r.view = visible.length ? r.confirmed.concat(visible) : r.confirmed.slice();
    }
    return r.view;
  }

  /** Resume point: the highest seq received as a message in this room. */
  lastSeq(roomId: string): number | undefined {
    return this.rooms.get(roomId)?.resumeSeq;
  }

  /** Lowest confirmed seq (cursor for the next older page). */
  firstSeq(roomId: string): number | undefined {
    return this.rooms.get(roomId)?.confirmed[0]?.seq;
  }

  /** Highest confirmed seq, own acked messages included (read position). */
  newestSeq(roomId: string): number | undefined {
    const c = this.rooms.get(roomId)?.confirmed;
    return c && c.length ? c[c.length - 1].seq : undefined;
  }

  /** Resume points of every room that has one. */
  resumePoints(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [id, r] of this.rooms) if (r.resumeSeq !== undefined) out[id] = r.resumeSeq;
    return out;
  }

  /** Messages of others with seq above `afterSeq` (unread count). */
  countAfter(roomId: string, afterSeq: number, excludeUserId?: string): number {
    const r = this.rooms.get(roomId);
    if (!r) return 0;
    let n = 0;
    for (let i = r.confirmed.length - 1; i >= 0; i--) {
      const m = r.confirmed[i];
      if ((m.seq ?? 0) <= afterSeq) break;
      if (m.type === 'text' && m.user_id !== excludeUserId) n++;
    }
    return n;
  }

  isHistoryLoaded(roomId: string): boolean {
    return this.rooms.get(roomId)?.historyLoaded ?? false;
  }

  setHistoryLoaded(roomId: string, hasOlder: boolean): void {
    const r = this.room(roomId);
    r.historyLoaded = true;
    r.hasOlder = hasOlder;
  }

  hasOlder(roomId: string): boolean {
    return this.rooms.get(roomId)?.hasOlder ?? true;
  }

  setHasOlder(roomId: string, v: boolean): void {
    this.room(roomId).hasOlder = v;
  }

  /** Forgets a room (after leaving it); its pending messages go too. */
  dropRoom(roomId: string): void {
    const r = this.rooms.get(roomId);
    if (!r) return;
    for (const e of r.pending) if (e.msg.client_msg_id) this.pendingRoom.delete(e.msg.client_msg_id);
    this.rooms.delete(roomId);
  }

  clear(): void {
    this.rooms.clear();
    this.pendingRoom.clear();
  }
}

const EMPTY: ChatMessage[] = [];

function insertSorted(list: ChatMessage[], msg: ChatMessage): void {
  const seq = msg.seq ?? 0;
  if (list.length === 0 || (list[list.length - 1].seq ?? 0) < seq) {
    list.push(msg);
    return;
  }
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid].seq ?? 0) < seq) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, msg);
}
