// fetch wrapper for the REST API: JSON in/out, Bearer token, and the error
// shape {error:{code,message}} turned into ApiError. One method per endpoint.

import type { AuthUser, MessagePage, MemberPage, Profile, Room, RoomList, UserSummary } from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ApiOptions {
  baseUrl?: string;
  getToken: () => string | null;
  /** Called when an authenticated call answers 401 (expired or revoked session). */
  onUnauthorized?: (err: ApiError) => void;
  fetchImpl?: typeof fetch;
  timeoutMs?: number;
}

interface RequestOpts {
  auth?: boolean;
  query?: Record<string, string | number | undefined>;
  signal?: AbortSignal;
}

/** Reads an error body of any shape into an ApiError. */
export async function toApiError(res: Response): Promise<ApiError> {
  let code = `http_${res.status}`;
  let message = res.statusText || `Request failed (${res.status})`;
  try {
    const body = await res.json();
    if (body && typeof body === 'object' && body.error && typeof body.error === 'object') {
      if (typeof body.error.code === 'string') code = body.error.code;
      if (typeof body.error.message === 'string' && body.error.message) message = body.error.message;
    }
  } catch {
    /* not JSON (e.g. a proxy's HTML page) */
  }
  const ra = res.headers.get('Retry-After');
  const secs = ra !== null ? Number(ra) : NaN;
  return new ApiError(res.status, code, message, Number.isFinite(secs) ? secs * 1000 : undefined);
}

export class Api {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly opts: ApiOptions) {
    this.base = opts.baseUrl ?? '';
    this.fetchImpl = opts.fetchImpl ?? ((...a) => fetch(...a));
  }

  async request<T>(method: string, path: string, body?: unknown, ro: RequestOpts = {}): Promise<T> {
    const auth = ro.auth ?? true;
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (auth) {
      const token = this.opts.getToken();
      if (token) headers.Authorization = `Bearer ${token}`;
    }
    let url = this.base + path;
    if (ro.query) {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(ro.query)) if (v !== undefined && v !== '') qs.set(k, String(v));
      const s = qs.toString();
      if (s) url += (url.includes('?') ? '&' : '?') + s;
    }
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), this.opts.timeoutMs ?? 20_000);
    ro.signal?.addEventListener('abort', () => ctl.abort());
    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: ctl.signal,
      });
    } catch (e) {
      if (ro.signal?.aborted) throw new ApiError(0, 'aborted', 'Request cancelled');
      throw new ApiError(0, 'network_error', 'Cannot reach the server. Check your connection.');
    } finally {
      clearTimeout(timer);
    }
    if (!res.ok) {
      const err = await toApiError(res);
      if (res.status === 401 && auth) this.opts.onUnauthorized?.(err);
      throw err;
    }
    if (res.status === 204) return undefined as T;
    try {
      return (await res.json()) as T;
    } catch {
      throw new ApiError(res.status, 'bad_response', 'The server sent an unreadable answer.');
    }
  }

  // --- auth ---
  register(username: string, email: string, password: string) {
    return this.request<AuthUser & { created_at?: string }>(
      'POST', '/api/auth/register', { username, email, password }, { auth: false });
  }
  /** `login` is an email or a username: the server takes either in the `email` field. */
  login(login: string, password: string) {
    return this.request<{ token: string; user: AuthUser }>(
      'POST', '/api/auth/login', { email: login, password }, { auth: false });
  }
  refresh() {
    return this.request<{ token: string }>('POST', '/api/auth/refresh');
  }
  /** Revokes the current token server-side (its sockets close too). */
  logout() {
    return this.request<void>('POST', '/api/auth/logout');
  }

  // --- users ---
  me() {
    return this.request<Profile>('GET', '/api/users/me');
  }
  updateMe(patch: { display_name?: string; avatar_url?: string }) {
    return this.request<Profile>('PATCH', '/api/users/me', patch);
  }
  user(id: string) {
    return this.request<UserSummary>('GET', `/api/users/${encodeURIComponent(id)}`);
  }
  searchUsers(q: string, limit = 20, signal?: AbortSignal) {
    return this.request<{ users: UserSummary[] }>('GET', '/api/users', undefined, { query: { q, limit }, signal });
  }

  // --- rooms ---
  createRoom(name: string, description: string, isPrivate: boolean) {
    return this.request<Room>('POST', '/api/rooms', { name, description, is_private: isPrivate });
  }
  listRooms(limit = 100, offset = 0) {
    return this.request<RoomList>('GET', '/api/rooms', undefined, { query: { limit, offset } });
  }
  /** Every visible room, following `total` page by page (bounded). */
  async listAllRooms(pageSize = 100, maxPages = 20): Promise<Room[]> {
    const out: Room[] = [];
    for (let page = 0; page < maxPages; page++) {
      const res = await this.listRooms(pageSize, out.length);
      const rooms = Array.isArray(res.rooms) ? res.rooms : [];
      out.push(...rooms);
      if (rooms.length === 0 || rooms.length < pageSize || (typeof res.total === 'number' && out.length >= res.total)) break;
    }
    return out;
  }
  room(id: string) {
    return this.request<Room>('GET', `/api/rooms/${encodeURIComponent(id)}`);
  }
  join(id: string) {
    return this.request<Room>('POST', `/api/rooms/${encodeURIComponent(id)}/join`);
  }
  leave(id: string) {
    return this.request<Room>('POST', `/api/rooms/${encodeURIComponent(id)}/leave`);
  }
  /** One page of a room's members (the server's default page is 50, at most 200). */
  members(id: string, limit = 100, offset = 0) {
    return this.request<MemberPage>('GET', `/api/rooms/${encodeURIComponent(id)}/members`, undefined, {
      query: { limit, offset },
    });
  }
  addMember(roomId: string, userId: string) {
    return this.request<unknown>('POST', `/api/rooms/${encodeURIComponent(roomId)}/members`, { user_id: userId });
  }
  removeMember(roomId: string, userId: string) {
    return this.request<unknown>(
      'DELETE', `/api/rooms/${encodeURIComponent(roomId)}/members/${encodeURIComponent(userId)}`);
  }
  dm(userId: string) {
    return this.request<Room>('POST', '/api/dms', { user_id: userId });
  }
  messages(roomId: string, q: { limit?: number; beforeSeq?: number; afterSeq?: number } = {}) {
    return this.request<MessagePage>('GET', `/api/rooms/${encodeURIComponent(roomId)}/messages`, undefined, {
      query: { limit: q.limit ?? 50, before_seq: q.beforeSeq, after_seq: q.afterSeq },
    });
  }
}
