"""rest_client.py - a blocking JSON client of the chat REST API (SPEC §2) for the chaos
suite: calls retried through 5xx answers, full room histories paged with after_seq, and
full member lists paged with offset.
Runs on the chaos driver's worker threads (never on its asyncio loop)."""
import time
import urllib.error

from integration.ws_client import api  # tests/ is on sys.path (chaos.py)


class Rest:
    """Blocking JSON client for the REST API (SPEC §2). Any thread."""

    def __init__(self, base):
        self.base = base.rstrip("/")

    def call(self, method, path, body=None, token=None, timeout=15.0):
        return api(self.base, method, path, token=token, body=body, timeout=timeout)

    def must(self, method, path, body=None, token=None, ok=(200, 201), tries=60):
        """The call, retried while the answer is 5xx or the connection fails (about two
        minutes at most: a saturated FerretDB answers 503 for a while)."""
        last = None
        for attempt in range(tries):
            try:
                status, doc = self.call(method, path, body, token)
            except (urllib.error.URLError, OSError) as e:
                status, doc = None, str(e)
            if status in ok:
                return doc
            last = (status, doc)
            if status is not None and status < 500:
                break
            time.sleep(min(0.25 * (attempt + 1), 2.0))
        raise RuntimeError(f"{method} {path} failed: {last}")

    def history(self, room_id, token, limit=200):
        """Every stored message of the room, ascending, paged with after_seq."""
        out, after = [], 0
        while True:
            doc = self.must("GET", f"/api/rooms/{room_id}/messages?after_seq={after}&limit={limit}",
                            token=token)
            page = doc.get("messages", [])
            if not page:
                return out
            out.extend(page)
            nxt = max(int(m.get("seq", 0)) for m in page)
            if nxt <= after:  # a server that ignores after_seq would loop forever
                raise RuntimeError(f"history paging of {room_id} did not advance past {after}")
            after = nxt

    def last_seq(self, room_id, token):
        doc = self.must("GET", f"/api/rooms/{room_id}/messages?limit=1&offset=0", token=token)
        msgs = doc.get("messages", [])
        return max((int(m.get("seq", 0)) for m in msgs), default=0)



    def members(self, room_id, token, limit=200):
        """Every member's user id (GET /members, paged with offset)."""
        out, offset = [], 0
        while True:
            doc = self.must("GET", f"/api/rooms/{room_id}/members?limit={limit}&offset={offset}",
                            token=token)
            page = [m.get("id") for m in doc.get("members", [])]
            out.extend(page)
            offset += len(page)
            if not page or offset >= int(doc.get("total", 0)):
                return out
