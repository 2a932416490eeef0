// Wire types of the chat server's REST and WebSocket contract (see SPEC.md §2–3).

export interface AuthUser {
  id: string;
  username: string;
  email?: string;
}

export interface Profile {
  id: string;
  username: string;
  email?: string;
  display_name?: string | null;
  avatar_url?: string | null;
  online?: boolean;
  last_seen?: string | null;
  created_at?: string;
}

export interface UserSummary {
  id: string;
  username: string;
  display_name?: string | null;
  avatar_url?: string | null;
  online?: boolean;
  last_seen?: string | null;
}

export interface Room {
  id: string;
  name: string;
  description?: string;
  creator_id: string;
  /** At most the first 100 member ids (SPEC §2); the full list is GET …/members. */
  members: string[];
  /** How many members the room has; newer servers send it, else members.length. */
  member_count?: number;
  is_private: boolean;
  created_at?: string;
  /** Not in the contract; honoured when a server sends it. */
  is_dm?: boolean;
  type?: string;
}

export interface RoomList {
  rooms: Room[];
  total: number;
  offset: number;
  limit: number;
}

export interface Member {
  id: string;
  username: string;
  online?: boolean;
  role?: string;
}

/** GET /api/rooms/{id}/members?limit&offset */
export interface MemberPage {
  members: Member[];
  total?: number;
  offset?: number;
  limit?: number;
}

/** A room message as stored by the server. */
export interface WireMessage {
  id: string;
  room_id: string;
  user_id: string;
  username: string;
  content: string;
  type: 'text' | 'system';
  timestamp: string;
  seq: number;
  client_msg_id?: string;
}

export interface MessagePage {
  messages: WireMessage[];
  total?: number;
  offset?: number;
  limit?: number;
}

export interface AckFrame {
  type: 'ack';
  client_msg_id: string;
  id: string;
  seq: number;
  timestamp: string;
  room_id?: string;
}

export interface PresenceFrame {
  type: 'presence';
  user_id: string;
  status: 'online' | 'offline';
}

export interface TypingFrame {
  type: 'typing';
  room_id: string;
  user_id: string;
  username: string;
}

export interface ErrorFrame {
  type: 'error';
  code: string;
  message?: string;
  client_msg_id?: string;
  room_id?: string;
  retry_after_ms?: number;
}

/** Per-user live channel: the user was added to a room (or joined it on another device). */
export interface RoomAddedFrame {
  type: 'room_added';
  room: Room;
}

/** Per-user live channel: someone opened a direct message with the user. */
export interface DmCreatedFrame {
  type: 'dm_created';
  room: Room;
}

/** Per-user live channel: the user was removed from a room. */
export interface MemberRemovedFrame {
  type: 'member_removed';
  room_id: string;
  user_id: string;
}

export type ServerFrame =
  | ({ kind: 'message' } & { message: WireMessage })
  | ({ kind: 'ack' } & { frame: AckFrame })
  | ({ kind: 'presence' } & { frame: PresenceFrame })
  | ({ kind: 'typing' } & { frame: TypingFrame })
  | ({ kind: 'error' } & { frame: ErrorFrame })
  | { kind: 'room_added'; frame: RoomAddedFrame }
  | { kind: 'dm_created'; frame: DmCreatedFrame }
  | { kind: 'member_removed'; frame: MemberRemovedFrame }
  | { kind: 'pong' }
  | { kind: 'other'; raw: unknown };

export type ClientFrame =
  | { type: 'message'; room_id: string; content: string; client_msg_id: string }
  | { type: 'subscribe'; room_id: string; after_seq?: number }
  | { type: 'join' | 'leave'; room_id: string }
  | { type: 'typing'; room_id: string }
  | { type: 'ping' }
  | { type: 'auth'; token: string };

/** Turns one parsed JSON frame into a tagged union; tolerant of extra fields. */
export function classifyFrame(raw: unknown): ServerFrame {
  if (!raw || typeof raw !== 'object') return { kind: 'other', raw };
  const f = raw as Record<string, unknown>;
  switch (f.type) {
    case 'ack':
      if (typeof f.client_msg_id === 'string' && typeof f.seq === 'number') {
        return { kind: 'ack', frame: f as unknown as AckFrame };
      }
      break;
    case 'presence':
      if (typeof f.user_id === 'string') return { kind: 'presence', frame: f as unknown as PresenceFrame };
      break;
    case 'typing':
      if (typeof f.room_id === 'string' && typeof f.user_id === 'string') {
        return { kind: 'typing', frame: f as unknown as TypingFrame };
      }
      break;
    case 'error':
      return { kind: 'error', frame: { ...(f as object), code: String(f.code ?? 'error') } as ErrorFrame };
    case 'pong':
      return { kind: 'pong' };
    case 'room_added':
    case 'dm_created':
      if (isRoom(f.room)) {
        return f.type === 'room_added'
          ? { kind: 'room_added', frame: { type: 'room_added', room: f.room } }
          : { kind: 'dm_created', frame: { type: 'dm_created', room: f.room } };
      }
      break;
    case 'member_removed':
      if (typeof f.room_id === 'string' && typeof f.user_id === 'string') {
        return { kind: 'member_removed', frame: { type: 'member_removed', room_id: f.room_id, user_id: f.user_id } };
      }
      break;
    case 'message':
      // Some servers wrap the stored message: {type:"message", message:{...}}.
      if (f.message && typeof f.message === 'object') return classifyFrame(f.message);
      if (isWireMessage(f)) return { kind: 'message', message: { ...(f as unknown as WireMessage), type: 'text' } };
      break;
    case 'text':
    case 'system':
    case undefined:
      if (isWireMessage(f)) {
        const type = f.type === 'system' ? 'system' : 'text';
        return { kind: 'message', message: { ...(f as unknown as WireMessage), type } };
      }
      break;
  }
  return { kind: 'other', raw };
}

function isRoom(r: unknown): r is Room {
  if (!r || typeof r !== 'object') return false;
  const o = r as Record<string, unknown>;
  return typeof o.id === 'string' && /^[0-9a-f]{24}$/.test(o.id) && (o.members === undefined || Array.isArray(o.members));
}

function isWireMessage(f: Record<string, unknown>): boolean {
  return typeof f.room_id === 'string' && typeof f.seq === 'number' && typeof f.content === 'string';
}
