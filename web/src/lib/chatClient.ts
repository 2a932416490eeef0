// The chat client used by the UI: the core (socket, history, sending) plus the
// room and profile actions of the REST API (create, join, leave, DMs, paged members).

import { ApiError } from './api';
import { ChatCore, PAGE } from './chatCore';
import type { Room, UserSummary } from './types';

export { errorText } from './outbox';

/** Members per page of the members panel (the server allows up to 200). */
export const MEMBERS_PAGE = 50;

export class ChatClient extends ChatCore {
  private olderInflight = new Set<string>();
  private membersInflight = new Set<string>();

  private adopt(room: Room, member: boolean): Room {
    const members = new Set(room.members ?? []);
    if (member) members.add(this.me.id);
    else members.delete(this.me.id);
    this.roomsEpoch++;
    this.dir.setMembership(room.id, member);
    return this.dir.upsertRoom({ ...room, members: [...members] });
  }

  async createRoom(name: string, description: string, isPrivate: boolean): Promise<Room> {
    const room = this.adopt(await this.auth.api.createRoom(name, description, isPrivate), true);
    this.left.delete(room.id);
    this.openRoom(room.id);
    return room;
  }

  async joinRoom(id: string): Promise<void> {
    const room = this.adopt(await this.auth.api.join(id), true);
    this.left.delete(room.id);
    this.openRoom(room.id);
  }

  async leaveRoom(id: string): Promise<void> {
    const room = await this.auth.api.leave(id);
    this.left.add(id);
    if (room && typeof room === 'object' && room.id) this.adopt(room, false);
    else this.dir.rooms.delete(id);
    this.roomsEpoch++;
    this.dir.setMembership(id, false);
    if (this.dir.rooms.get(id)?.is_private) this.dir.removeRoom(id);
    this.forgetRoom(id);
    this.emit();
  }

  async startDm(userId: string): Promise<void> {
    const room = await this.auth.api.dm(userId);
    this.dir.markDm(room.id);
    this.adopt(room, true);
    this.left.delete(room.id);
    this.ensureUser(userId);
    this.openRoom(room.id);
  }

  /** The first page of a room's members (again); loadMoreMembers() pages on. */
  async loadMembers(id: string): Promise<void> {
    await this.loadMemberPage(id, 0);
  }

  async loadMoreMembers(id: string): Promise<void> {
    if (this.membersInflight.has(id) || !this.dir.hasMoreMembers(id)) return;
    await this.loadMemberPage(id, this.dir.members.get(id)?.length ?? 0);
  }

  isLoadingMembers(id: string): boolean {
    return this.membersInflight.has(id);
  }

  private async loadMemberPage(id: string, offset: number): Promise<void> {
    this.membersInflight.add(id);
    try {
      const res = await this.auth.api.members(id, MEMBERS_PAGE, offset);
      const list = Array.isArray(res?.members) ? res.members : [];
      const total = typeof res?.total === 'number' ? res.total : undefined;
      this.dir.setMembers(id, list, total, offset);
    } catch {
      /* the panel shows what it has */
    } finally {
      this.membersInflight.delete(id);
      this.emit();
    }
  }

  async refreshRoom(id: string): Promise<void> {
    try {
      this.dir.upsertRoom(await this.auth.api.room(id));
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        this.dir.removeRoom(id);
        this.forgetRoom(id);
      }
    }
    await this.loadMembers(id);
    this.emit();
  }

  /** Looks a room up by id (e.g. from a pasted link); null when it is unknown or hidden. */
  async fetchRoom(id: string): Promise<Room | null> {
    try {
      const room = this.dir.upsertRoom(await this.auth.api.room(id));
      this.emit();
      return room;
    } catch {
      return null;
    }
  }

  async addMember(roomId: string, userId: string): Promise<void> {
    await this.auth.api.addMember(roomId, userId);
    await this.refreshRoom(roomId);
  }

  async removeMember(roomId: string, userId: string): Promise<void> {
    await this.auth.api.removeMember(roomId, userId);
    await this.refreshRoom(roomId);
  }

  async loadOlder(id: string): Promise<void> {
    if (this.olderInflight.has(id) || !this.store.hasOlder(id)) return;
    const first = this.store.firstSeq(id);
    if (first === undefined) return this.ensureHistory(id);
    this.olderInflight.add(id);
    this.emit();
    try {
      const page = await this.auth.api.messages(id, { limit: PAGE, beforeSeq: first });
      const msgs = Array.isArray(page?.messages) ? page.messages : [];
      this.store.addMessages(id, msgs.filter((m) => m.seq < first));
      this.store.setHasOlder(id, msgs.length >= PAGE);
      this.ensureUsersOf(msgs);
    } catch (e) {
      this.showNotice(e instanceof Error ? e.message : 'Could not load older messages.');
    } finally {
      this.olderInflight.delete(id);
      this.emit();
    }
  }

  isLoadingOlder(id: string): boolean {
    return this.olderInflight.has(id);
  }

  async searchUsers(q: string, signal?: AbortSignal): Promise<UserSummary[]> {
    const res = await this.auth.api.searchUsers(q, 20, signal);
    return Array.isArray(res?.users) ? res.users : [];
  }

  async updateProfile(patch: { display_name?: string; avatar_url?: string }): Promise<void> {
    const p = await this.auth.api.updateMe(patch);
    this.me = { ...this.me, ...p };
    this.dir.upsertUser({ ...p, id: this.me.id, username: this.me.username });
    this.emit();
  }

}
