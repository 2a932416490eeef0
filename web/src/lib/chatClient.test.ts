// ChatClient wired to a fake REST API and fake WebSocket: history, subscribe with
// after_seq, resume after a reconnect, resend with the same client_msg_id, dedupe.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthStore } from './auth';
import { ChatClient } from './chatClient';

class MemStorage {
  private m = new Map<string, string>();
  get length() { return this.m.size; }
  clear() { this.m.clear(); }
  getItem(k: string) { return this.m.get(k) ?? null; }
  key(i: number) { return [...this.m.keys()][i] ?? null; }
  removeItem(k: string) { this.m.delete(k); }
  setItem(k: string, v: string) { this.m.set(k, v); }
}

class FakeWS {
  static all: FakeWS[] = [];
  readyState = 0;
  sent: Array<Record<string, unknown>> = [];
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onclose: ((ev: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) { FakeWS.all.push(this); }
  send(d: string) { this.sent.push(JSON.parse(d)); }
  close() { this.readyState = 3; }
  open() { this.readyState = 1; this.onopen?.(); }
  drop(code = 1006) { this.readyState = 3; this.onclose?.({ code }); }
  push(obj: unknown) { this.onmessage?.({ data: JSON.stringify(obj) }); }
}

const ME = 'a'.repeat(24);
const BOB = 'b'.repeat(24);
const ROOM = 'c'.repeat(24);
const DM = 'd'.repeat(24);
const PRIV = 'e'.repeat(24);
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const TOKEN = `${b64({ alg: 'HS256' })}.${b64({ sub: ME, iat: now, exp: now + 86400 })}.sig`;
const msg = (seq: number, user = BOB, content = `m${seq}`) => ({
  id: `id${seq}`, room_id: ROOM, user_id: user, username: user === ME ? 'alice' : 'bob', content, type: 'text',
  timestamp: new Date(Date.UTC(2025, 0, 1, 0, 0, seq)).toISOString(), seq,
});

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

function setup() {
  FakeWS.all = [];
  const storage = new MemStorage() as unknown as Storage;
  storage.setItem('chat.session', JSON.stringify({ token: TOKEN, user: { id: ME, username: 'alice' } }));
  const calls: string[] = [];
  vi.stubGlobal('fetch', async (url: string, init?: RequestInit) => {
    const u = new URL(url, 'http://test');
    calls.push(`${init?.method ?? 'GET'} ${u.pathname}${u.search}`);
    if (u.pathname === '/api/users/me') return json({ id: ME, username: 'alice' });
    if (u.pathname === '/api/rooms') {
      return json({ rooms: [{ id: ROOM, name: 'general', creator_id: ME, members: [ME, BOB], is_private: false }], total: 1, offset: 0, limit: 100 });
    }
    if (u.pathname === `/api/rooms/${ROOM}/messages`) return json({ messages: [msg(1), msg(2), msg(3)] });
    if (u.pathname === `/api/rooms/${ROOM}/members`) {
      const limit = Number(u.searchParams.get('limit') ?? 50);
      const offset = Number(u.searchParams.get('offset') ?? 0);
      const all = Array.from({ length: 120 }, (_, i) => ({
        id: i === 0 ? BOB : i.toString(16).padStart(24, '0'), username: `user${i}`, online: i % 2 === 0, role: 'member',
      }));
      return json({ members: all.slice(offset, offset + limit), total: all.length, offset, limit });
    }
    if (u.pathname === `/api/rooms/${DM}/messages`) return json({ messages: [] });
    if (u.pathname === `/api/rooms/${DM}/members`) return json({ members: [], total: 2, offset: 0, limit: 50 });
    if (u.pathname.startsWith('/api/users/')) return json({ id: BOB, username: 'bob', online: true });
    return json({ error: { code: 'not_found', message: 'no' } }, 404);
  });
  const auth = new AuthStore(storage);
  const client = new ChatClient(auth, {
    storage,
    wsUrl: (t) => `ws://test/ws?token=${t}`,
    WebSocketImpl: FakeWS as unknown as new (url: string) => WebSocket,
  });
  return { client, calls, storage };
}

async function connected() {
  const { client, calls, storage } = setup();
  void client.start();
  await vi.waitFor(() => expect(FakeWS.all).toHaveLength(1));
  ws().open();
  await vi.waitFor(() => expect(frames(ws(), 'subscribe')).toHaveLength(1));
  return { client, calls, storage };
}

const ws = () => FakeWS.all[FakeWS.all.length - 1];
const frames = (w: FakeWS, type: string) => w.sent.filter((f) => f.type === type);

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('ChatClient', () => {
  it('loads history, subscribes after the last seq, and resumes without gaps or doubles', async () => {
    const { client } = setup();
    void client.start();
    await vi.waitFor(() => expect(FakeWS.all).toHaveLength(1));
    expect(ws().url).toBe(`ws://test/ws?token=${TOKEN}`);
    ws().open();
    await vi.waitFor(() => expect(frames(ws(), 'subscribe')).toEqual([{ type: 'subscribe', room_id: ROOM, after_seq: 3 }]));
    client.openRoom(ROOM);

    ws().push(msg(4));
    ws().push(msg(4)); // a duplicate frame changes nothing
    expect(client.store.messages(ROOM).map((m) => m.seq)).toEqual([1, 2, 3, 4]);

    expect(client.send(ROOM, 'hello')).toBeNull();
    const [sent] = frames(ws(), 'message');
    expect(sent).toMatchObject({ room_id: ROOM, content: 'hello' });
    expect(typeof sent.client_msg_id).toBe('string');
    expect(client.store.messages(ROOM).at(-1)).toMatchObject({ status: 'pending', content: 'hello' });

    // connection lost before the ack: reconnect, resubscribe from seq 4, resend with the same id
    ws().drop(1006);
    expect(client.connection.state).toBe('reconnecting');
    await vi.waitFor(() => expect(FakeWS.all).toHaveLength(2), { timeout: 3000 });
    ws().open();
    await vi.waitFor(() => expect(frames(ws(), 'subscribe')).toEqual([{ type: 'subscribe', room_id: ROOM, after_seq: 4 }]));
    expect(frames(ws(), 'message')).toEqual([sent]);

    // replay: what was missed, then our own message (stored once server-side), then the ack
    ws().push(msg(5));
    ws().push(msg(6, ME, 'hello'));
    ws().push({ type: 'ack', client_msg_id: sent.client_msg_id, id: 'id6', seq: 6, timestamp: msg(6).timestamp });
    const view = client.store.messages(ROOM);
    expect(view.map((m) => [m.seq, m.status])).toEqual([[1, 'sent'], [2, 'sent'], [3, 'sent'], [4, 'sent'], [5, 'sent'], [6, 'sent']]);
    expect(client.store.lastSeq(ROOM)).toBe(6);
    client.stop();
  });

  it('counts unread messages of others in rooms that are not open', async () => {
    const { client } = setup();
    void client.start();
    await vi.waitFor(() => expect(FakeWS.all).toHaveLength(1));
    ws().open();
    await vi.waitFor(() => expect(frames(ws(), 'subscribe')).toHaveLength(1));
    expect(client.unread(ROOM)).toBe(0); // first visit: history counts as read
    ws().push(msg(4));
    ws().push(msg(5, ME, 'mine'));
    ws().push(msg(6));
    expect(client.unread(ROOM)).toBe(2);
    client.openRoom(ROOM);
    expect(client.unread(ROOM)).toBe(0);
    client.stop();
  });

  it('shows typing of others and marks failed sends from error frames', async () => {
    const { client } = setup();
    void client.start();
    await vi.waitFor(() => expect(FakeWS.all).toHaveLength(1));
    ws().open();
    await vi.waitFor(() => expect(frames(ws(), 'subscribe')).toHaveLength(1));
    ws().push({ type: 'typing', room_id: ROOM, user_id: BOB, username: 'bob' });
    ws().push({ type: 'typing', room_id: ROOM, user_id: ME, username: 'alice' });
    expect(client.typingNames(ROOM)).toEqual(['bob']);
    client.notifyTyping(ROOM);
    client.notifyTyping(ROOM);
    expect(frames(ws(), 'typing')).toHaveLength(1);

    client.send(ROOM, 'x');
    const [sent] = frames(ws(), 'message');
    ws().push({ type: 'error', code: 'not_member', message: 'no', client_msg_id: sent.client_msg_id });
    expect(client.store.messages(ROOM).at(-1)).toMatchObject({ status: 'failed', error: 'You are not a member of this room.' });
    expect(client.send(ROOM, '   ')).toBe('Message is empty.');
    expect(client.send(ROOM, 'y'.repeat(4001))).toMatch(/too long/);
    client.stop();
  });

  it('lists a DM announced on the live channel at once, subscribes from seq 0 and shows it unread', async () => {
    const { client } = await connected();
    const dmRoom = { id: DM, name: 'dm', creator_id: BOB, members: [BOB, ME], member_count: 2, is_private: true, is_dm: true };
    ws().push({ type: 'dm_created', room: dmRoom });
    expect(client.dir.memberRooms().map((r) => r.id)).toContain(DM);
    expect(client.dir.isDm(client.dir.rooms.get(DM)!)).toBe(true);
    expect(frames(ws(), 'subscribe')).toContainEqual({ type: 'subscribe', room_id: DM, after_seq: 0 });
    // the replay of what Bob already wrote arrives on that subscription
    ws().push({ ...msg(1), room_id: DM, id: 'dm1', content: 'psst' });
    ws().push({ ...msg(2), room_id: DM, id: 'dm2', content: 'are you there?' });
    expect(client.unread(DM)).toBe(2);
    expect(client.totalUnread()).toBe(2);
    ws().push({ type: 'dm_created', room: dmRoom }); // a second announcement changes nothing
    expect(frames(ws(), 'subscribe').filter((f) => f.room_id === DM)).toHaveLength(1);
    client.openRoom(DM);
    expect(client.unread(DM)).toBe(0);
    client.stop();
  });

  it('follows room_added and member_removed for a private room', async () => {
    const { client } = await connected();
    const room = { id: PRIV, name: 'secret', creator_id: BOB, members: [BOB, ME], member_count: 2, is_private: true };
    ws().push({ type: 'room_added', room });
    expect(client.dir.isMember(client.dir.rooms.get(PRIV))).toBe(true);
    expect(client.dir.isDm(client.dir.rooms.get(PRIV)!)).toBe(false);
    expect(frames(ws(), 'subscribe')).toContainEqual({ type: 'subscribe', room_id: PRIV, after_seq: 0 });
    client.openRoom(PRIV);
    ws().push({ type: 'member_removed', room_id: PRIV, user_id: ME });
    expect(client.dir.rooms.has(PRIV)).toBe(false);
    expect(client.activeRoomId).toBeNull();
    expect(client.notice?.text).toBe('You were removed from #secret.');
    ws().push({ ...msg(9), room_id: PRIV });
    expect(client.store.messages(PRIV)).toHaveLength(0);
    // after a reconnect the room is not subscribed again
    ws().drop(1006);
    await vi.waitFor(() => expect(FakeWS.all).toHaveLength(2), { timeout: 3000 });
    ws().open();
    await vi.waitFor(() => expect(frames(ws(), 'subscribe')).toHaveLength(1));
    expect(frames(ws(), 'subscribe').map((f) => f.room_id)).toEqual([ROOM]);
    // frames that are not ours or are malformed are ignored
    ws().push({ type: 'room_added', room: { id: 'not-an-id' } });
    ws().push({ type: 'member_removed', room_id: ROOM });
    expect(client.dir.memberRooms().map((r) => r.id)).toEqual([ROOM]);
    client.stop();
  });

  it('shows presence as unknown while disconnected', async () => {
    const { client } = await connected();
    ws().push({ type: 'presence', user_id: BOB, status: 'online' });
    expect(client.presence(BOB)).toBe('online');
    expect(client.presence(ME)).toBe('online');
    ws().drop(1006);
    expect(client.presence(BOB)).toBe('unknown');
    expect(client.presence(ME)).toBe('unknown');
    await vi.waitFor(() => expect(FakeWS.all).toHaveLength(2), { timeout: 3000 });
    ws().open();
    expect(client.presence(BOB)).toBe('online');
    client.stop();
  });

  it('pages through the members of a room and counts them by member_count', async () => {
    const { client, calls } = await connected();
    await client.loadMembers(ROOM);
    expect(client.dir.members.get(ROOM)).toHaveLength(50);
    expect(client.dir.hasMoreMembers(ROOM)).toBe(true);
    await client.loadMoreMembers(ROOM);
    await client.loadMoreMembers(ROOM);
    expect(client.dir.members.get(ROOM)).toHaveLength(120);
    expect(new Set(client.dir.members.get(ROOM)!.map((m) => m.id)).size).toBe(120);
    expect(client.dir.hasMoreMembers(ROOM)).toBe(false);
    expect(calls.filter((c) => c.startsWith(`GET /api/rooms/${ROOM}/members`))).toEqual([
      `GET /api/rooms/${ROOM}/members?limit=50&offset=0`,
      `GET /api/rooms/${ROOM}/members?limit=50&offset=50`,
      `GET /api/rooms/${ROOM}/members?limit=50&offset=100`,
    ]);
    const big = { id: ROOM, name: 'general', creator_id: BOB, members: ['f'.repeat(24)], member_count: 150, is_private: false };
    client.dir.upsertRoom(big);
    expect(client.dir.memberCount(client.dir.rooms.get(ROOM)!)).toBe(150);
    // not among the first ids, but we joined it: still a member
    client.dir.setMembership(ROOM, true);
    expect(client.dir.isMember(client.dir.rooms.get(ROOM))).toBe(true);
    client.dir.setMembership(ROOM, false);
    expect(client.dir.isMember(client.dir.rooms.get(ROOM))).toBe(false);
    client.stop();
  });
});
