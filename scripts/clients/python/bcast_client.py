#!/usr/bin/python3
"""A small Python client for broadcast-server (BCAST/1; proto/PROTOCOL.md is the spec).

Protocol steps, as this client follows them:

1. A SUB socket connects to the broker's OUT (PUB) endpoint and subscribes to
   ``sys/`` and ``room/<r>/`` per followed room *before* the hello, so all that
   is published after the welcome is on its way to us. Publications are two
   frames, [topic][body]; every body is one MessagePack map, key ``t`` its type.
2. A DEALER connects to IN (ROUTER) with IMMEDIATE=1 and a random routing id
   not starting with a zero byte; a request or an answer is one frame.
3. ``{t: hello, v: 1, name, rooms, [token], [session]}`` is repeated every
   1000 ms (later: every hb_ivl) until ``{t: welcome, session, epoch, hb_ivl
   (ms), liveness, sys_seq, rooms: {room: last seq}, max_text, ts}``; at the
   first welcome each stream starts after those seqs. A later welcome of the
   same epoch (a resume) keeps every room's last and the sys position: what
   was published before it may still wait on the SUB, so its ``rooms`` are
   applied only once an ``hb`` with ``ts`` >= ``welcome.ts`` arrives (or after
   liveness * hb_ivl), then fills as usual. Publications that arrive while
   no welcome has come are kept for it (replayed after it) if the client
   acts on them (room msgs; join, leave, shutdown, hb on sys/): up to 100 000
   or 64 MiB of them (their strings, an hb's room names) for all rooms and
   sys/ together, the rest dropped. A room msg dropped is filled from history
   (it is announced); a join or leave dropped is lost, as missed presence
   cannot be refilled (PROTOCOL.md 10.2). The constructor also
   waits for a first publication (a heartbeat at the latest): it proves the
   subscription live.
4. Rooms publish ``{t: msg, epoch, seq, ts, room, from, text}``, or several
   at once as ``{t: pack, epoch, room, seq, ts, names, entries: [[dts, sender,
   text], ...]}`` (entry i: the msg of seq + i, ts + dts, from names[sender];
   a malformed pack is ignored whole, and the fill repairs the gap) or an
   older broker's ``{t: batch, epoch, room, msgs}``; ``sys/`` has
   ``join``/``leave``/``shutdown`` (sequenced) and ``hb`` (``rooms``: room ->
   last seq, ``sys_seq``). Seqs run 1, 2, 3... per stream: duplicates are
   dropped, later seqs held (up to 100 000 or 64 MiB of them per room; past
   that the newest are let go, as history has them), and a gap is filled
   with ``{t: history, room, after: last, limit}``, answered by ``{t:
   history, room, msgs, first, last}``; seqs below ``first`` (the oldest
   kept) are reported as ``lost``. An answer that moves nothing (a seq
   announced that history never had) pauses that room's fills for hb_ivl.
5. ``{t: msg, room, text, id}`` and ``{t: dm, to, text, id}`` are re-sent every
   2*hb_ivl until ``{t: ack, id, [room, seq]}``: the broker acks a repeated id
   without carrying it out twice. At most WINDOW of them are on the wire; the
   rest wait, in id order, for acks. A ``msg`` of ours delivered from a room
   (``from`` = our name) acks the one pending ``msg`` with its room and text,
   if only one matches (PROTOCOL.md 10.3): the ``ack`` may have been lost. A
   dm arrives on the DEALER: ``{t: dm, from, text, ts}``. ``who``/``ping``
   may carry an ``id``, echoed in the answer. Order: pending requests are
   re-sent in id order, and once one is refused ``rate-limited`` nothing
   newer goes out until it is acked: it is retried alone after 10 ms,
   doubling while refused, up to hb_ivl/2.
6. An idle client pings every hb_ivl; the broker ends a session silent for
   ``liveness`` intervals (``leave``, reason ``timeout``). A broker silent that
   long, a ``shutdown``, a new ``epoch``, ``error`` ``no-session`` or our own
   ``leave`` (not ``bye``) published after the welcome make the client say
   hello again, with its session token to resume: once; ``no-session``
   errors while it waits, or for requests sent before the latest welcome,
   are ignored, and pending requests are re-sent after the welcome, in id
   order, before anything new. Bodies of an unknown ``t`` are ignored. At a
   new epoch each room first delivers the old epoch's held messages and
   reports as ``lost`` every seq of it announced (or acked to us) but never
   delivered.
7. ``{t: bye}`` ends the session (``leave``, reason ``bye``).
"""
import argparse
import collections
import itertools
import os
import sys
import time

import msgpack
import zmq

# The canonical key order of every body (PROTOCOL.md section 6), after "t",
# is in bcast_schema.py, generated from proto/schema/bcast1.json. encode()
# writes keys in this order, so bodies match proto/vectors byte for byte;
# receivers never depend on it.
from bcast_schema import EVENT_KEY_ORDER, EVENT_SHAPES, KEY_ORDER  # noqa: E402

# Unacked requests on the wire at once (PROTOCOL.md 10.3, as the C++ client):
# well below the broker's 1024 remembered ids, so every retry is recognised.
WINDOW = 256
# The first retry of a request refused as rate-limited (PROTOCOL.md 10.3);
# the pause doubles while it is refused, up to hb_ivl / 2.
RATE_LIMITED_PAUSE = 0.01
# Hello is repeated this often until the first welcome tells hb_ivl
# (PROTOCOL.md 10.1 step 3: the broker's default).
HELLO_RETRY = 1.0
# What is held per room after a gap, and what is kept until a welcome, is
# bounded (PROTOCOL.md 10.2, as the C++ client): at most this many messages
# and this many bytes of them (_footprint(), _stash_cost()). Past either the
# newest are let go: a room msg is still announced, so the fill brings it
# from history; presence (join, leave) let go before a welcome cannot be
# refilled (PROTOCOL.md 10.2).
MAX_HELD = 100000
MAX_HELD_BYTES = 64 << 20


def canonical(body, event=False):
    """``body`` (a dict with ``t``) with its keys in canonical order; keys
    whose value is None are left out. ``event``: a broker-to-client body."""
    order = (EVENT_KEY_ORDER if event else KEY_ORDER)[body["t"]]
    out = {"t": body["t"]}
    for key in order:
        value = body.get(key)
        if key == "msgs" and value is not None:
            value = [canonical(m, event=True) for m in value]
        if value is not None:
            out[key] = value
    return out


# Decoder limits (PROTOCOL.md 5 item 7, 12): the body's map is level 1.
_MAX_DEPTH, _MAX_ENTRIES = 8, 65536


def _unique_pairs(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys) or not all(isinstance(k, str) for k in keys):
        raise ValueError("duplicate or non-string map key")
    return dict(pairs)


def _check_depth(value, depth=1):
    """ValueError if ``value`` (at level ``depth``) nests deeper than
    _MAX_DEPTH. msgpack has no such limit (it builds up to 1024 levels), so
    this runs on the built body: the frame cap (_MAX_FRAME) bounds its cost."""
    if isinstance(value, (dict, list)):
        if depth > _MAX_DEPTH:
            raise ValueError(f"nested deeper than {_MAX_DEPTH} levels")
        for item in value.values() if isinstance(value, dict) else value:
            _check_depth(item, depth + 1)


def decode(data):
    """The body in ``data`` as a dict; ValueError unless it is exactly one
    MessagePack map with unique string keys, valid UTF-8 and a string ``t``,
    within the decoder limits: no str, bin, ext, array or map longer than
    65536 bytes or entries (nor than ``data``: msgpack refuses a longer one
    before reserving room for it) and at most 8 levels of nesting."""
    most = min(len(data), _MAX_ENTRIES)
    try:
        body = msgpack.unpackb(data, raw=False, object_pairs_hook=_unique_pairs, max_str_len=most,
                               max_bin_len=most, max_ext_len=most, max_array_len=most, max_map_len=most)
    except ValueError:
        raise
    except Exception as e:  # truncated, extra data, invalid UTF-8, ...
        raise ValueError(f"not one MessagePack map: {e}") from None
    if not isinstance(body, dict) or not isinstance(body.get("t"), str):
        raise ValueError("not a map with a string 't'")
    _check_depth(body)
    return body


_KINDS = {
    "uint": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
    "str": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
}
# A room -> last seq map (hb.rooms, welcome.rooms): what a kept hb is counted by.
_KINDS["seq_map"] = lambda v: isinstance(v, dict) and all(
    isinstance(r, str) and _KINDS["uint"](s) for r, s in v.items())


def check_event(body):
    """``body`` if it has the keys its type must have, of their kinds
    (EVENT_SHAPES; the entries of ``msgs`` are ``msg`` bodies, a ``pack``
    stands for ``msg`` bodies); ValueError otherwise. An unknown ``t``
    passes: it is ignored later."""
    for key, kind in EVENT_SHAPES.get(body["t"], {}).items():
        if not _KINDS[kind](body.get(key)):
            raise ValueError(f"{body['t']}.{key} is missing or not a {kind}")
    for entry in body.get("msgs", []) if body["t"] in ("batch", "history") else []:
        if not isinstance(entry, dict) or entry.get("t") != "msg":
            raise ValueError(f"{body['t']}.msgs holds a body that is not a msg")
        check_event(entry)
    for entry in pack_msgs(body) if body["t"] == "pack" else []:
        check_event(entry)  # as a msg: each name a str
    return body


_UINT_MAX = 2**64 - 1
# The largest frame read (PROTOCOL.md 6.3, 12): twice the largest a broker sends.
_MAX_FRAME = 2 * 1024 * 1024


def pack_msgs(pack):
    """The ``msg`` bodies a ``pack`` (with the keys of EVENT_SHAPES["pack"])
    stands for, in seq order (PROTOCOL.md 6.3): entry i is seq + i, sent at
    ts + dts by names[sender]. ValueError when the pack is malformed: no
    entries or more than 64, an entry not [uint, uint, str], a sender past
    the end of names, a name not a str, a seq or ts past 2^64 - 1."""
    names, uint, msgs = pack["names"], _KINDS["uint"], []
    if not 1 <= len(pack["entries"]) <= 64:
        raise ValueError(f"a pack of {len(pack['entries'])} entries, not 1 to 64")
    if not all(isinstance(n, str) for n in names):
        raise ValueError("a pack name that is not a str")
    for i, entry in enumerate(pack["entries"]):
        if not (isinstance(entry, list) and len(entry) == 3 and uint(entry[0]) and uint(entry[1])
                and isinstance(entry[2], str)):
            raise ValueError(f"pack entry {i} is not [dts, sender, text]")
        dts, sender, text = entry
        if sender >= len(names):
            raise ValueError(f"pack entry {i} names sender {sender} of {len(names)}")
        if pack["seq"] + i > _UINT_MAX or pack["ts"] + dts > _UINT_MAX:
            raise ValueError(f"pack entry {i}: its seq or ts passes 2^64 - 1")
        msgs.append({"t": "msg", "epoch": pack["epoch"], "seq": pack["seq"] + i, "ts": pack["ts"] + dts,
                     "room": pack["room"], "from": names[sender], "text": text})
    return msgs


def _footprint(m):
    """What a held msg costs, in bytes: its strings (UTF-8), and 64 besides."""
    return 64 + len(m["text"].encode()) + len(m["from"].encode()) + len(m["room"].encode())


def _known(m):
    """``m`` with only the keys EVENT_KEY_ORDER defines for its ``t`` (an
    unknown ``t`` as it is: it is not kept). Unknown keys are ignored on
    input, and dropped before an event is kept (held, stashed for the
    welcome, queued): what _footprint() and _stash_cost() count is then what
    is kept (PROTOCOL.md 10.2)."""
    order = EVENT_KEY_ORDER.get(m.get("t"))
    return m if order is None else {"t": m["t"], **{k: m[k] for k in order if k in m}}


def _stash_cost(m):
    """What keeping publication ``m`` until the welcome costs, in bytes (as
    the C++ client; PROTOCOL.md 10.2), or None for one not kept: only what
    is acted on when published is, each charged 64 and its strings (an hb
    32 and the name per room), so no body is kept for free."""
    t = m.get("t")
    if t == "msg":
        return _footprint(m)
    if t in ("join", "leave", "shutdown"):
        return 64 + sum(len(m[k].encode()) for k in ("name", "reason") if k in m)
    if t == "hb":
        return 64 + sum(32 + len(r.encode()) for r in m["rooms"])
    return None


def encode(body, event=False):
    """The MessagePack bytes of ``body``, keys in canonical order."""
    return msgpack.packb(canonical(body, event), use_bin_type=True)


class ProtocolError(Exception):
    """The broker refused the hello: args are (code, reason)."""


def _curve_options(server_key, key):
    """Socket options for a CURVE client of the broker whose public key
    file is server_key (zcert format, as zmq.auth reads it)."""
    if server_key is None:
        return []
    import zmq.auth  # only CURVE users need it
    server_public, _ = zmq.auth.load_certificate(server_key)
    if key is None:
        public, secret = zmq.curve_keypair()
    else:
        public, secret = zmq.auth.load_certificate(key)
        if secret is None:
            raise ValueError(f"{key} holds no secret key: give the NAME.key_secret file")
    return [(zmq.CURVE_SERVERKEY, server_public), (zmq.CURVE_PUBLICKEY, public),
            (zmq.CURVE_SECRETKEY, secret)]


def _ipv6(endpoint):
    """True for an IPv6 literal (tcp://[::1]:5555): a ZeroMQ socket connects
    to one only with its IPV6 option set (host names stay IPv4, as in the
    C++ client)."""
    return str(endpoint).startswith("tcp://[")


class Client:
    """One named session: ``send()`` to speak, iterate ``events()`` to hear."""

    def __init__(self, name, in_endpoint, out_endpoint, rooms=("lobby",), token=None,
                 timeout=10.0, report_acks=False, server_key=None, key=None):
        """server_key: a CURVE broker's public key file (NAME.key, from
        ``broadcast-server keygen``); key: this client's NAME.key_secret, for a
        broker that admits keys (without it a new pair is made)."""
        self.name, self.rooms, self.token = name, list(rooms) or ["lobby"], token
        self.report_acks, self.acked = report_acks, {}  # acked: request id -> seq
        self.hb_ivl, self.liveness, self.max_text = HELLO_RETRY, 3, 4096
        self.session = self.epoch = None
        self._joined = self._heard_sub = False
        self._displaced = False  # our session was resumed elsewhere
        self._last = dict.fromkeys(self.rooms, 0)       # last seq delivered
        self._announced = dict.fromkeys(self.rooms, 0)  # highest seq known to exist
        self._held = {r: {} for r in self.rooms}        # seq -> msg after a gap
        self._held_bytes = dict.fromkeys(self.rooms, 0)  # their _footprint()s
        self._held_newest = dict.fromkeys(self.rooms, 0)  # the highest held seq, 0: none
        self._fill_sent, self._sys_last, self._acked_seq = {}, 0, {}
        self._fill_paused = {}  # room -> no fill before this time (PROTOCOL.md 10.2)
        self._welcome_sys_seq, self._welcome_at = 0, float("-inf")
        self._deferred = None  # a resume's (rooms, welcome ts, deadline)
        self._pending = {}  # id -> _Pending, in id order
        self._blocked = None  # the rate-limited request's (id, pause, next try)
        self._events, self._stash, self._replies = collections.deque(), [], {}
        self._stash_bytes = 0  # the _stash_cost()s of what _stash keeps for the welcome
        self._ids, self._last_sent, self._hello_sent = itertools.count(1), 0.0, float("-inf")
        self._ctx = zmq.Context()
        self._sub, self._dealer = self._ctx.socket(zmq.SUB), self._ctx.socket(zmq.DEALER)
        self._poller = zmq.Poller()
        curve = _curve_options(server_key, key)
        for s in (self._sub, self._dealer):
            for option, value in curve:
                s.setsockopt(option, value)
            s.setsockopt(zmq.LINGER, 1000)
            s.setsockopt(zmq.RECONNECT_IVL_MAX, 5000)
            s.setsockopt(zmq.MAXMSGSIZE, _MAX_FRAME)
            self._poller.register(s, zmq.POLLIN)
        for topic in ["sys/"] + [f"room/{r}/" for r in self.rooms]:
            self._sub.setsockopt(zmq.SUBSCRIBE, topic.encode())
        self._sub.setsockopt(zmq.IPV6, int(_ipv6(out_endpoint)))
        self._sub.connect(out_endpoint)
        self._dealer.setsockopt(zmq.IPV6, int(_ipv6(in_endpoint)))
        self._dealer.setsockopt(zmq.IMMEDIATE, 1)
        self._dealer.setsockopt(zmq.ROUTING_ID, b"P" + os.urandom(15))
        self._dealer.connect(in_endpoint)
        self._last_heard = time.monotonic()
        deadline = self._last_heard + timeout
        try:
            self._say_hello()
            while not (self._joined and self._heard_sub):
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"no welcome from the broker at {in_endpoint}")
                self.poll(deadline - time.monotonic())
        except BaseException:
            self._ctx.destroy(linger=0)
            raise

    def send(self, text, room=None):
        """Queues a room message, sent until acked; returns its id."""
        return self._request({"t": "msg", "room": room or self.rooms[0], "text": text})

    def dm(self, to, text):
        """Queues a private message to ``to``, sent until acked; returns its id."""
        return self._request({"t": "dm", "to": to, "text": text})

    def who(self, timeout=5.0):
        """Returns the users online: a list of {name, since}."""
        rid, deadline, sent = next(self._ids), time.monotonic() + timeout, float("-inf")
        while rid not in self._replies:
            if time.monotonic() >= deadline:
                raise TimeoutError("no answer to who")
            if time.monotonic() - sent >= self.hb_ivl and self._transmit({"t": "who", "id": rid}):
                sent = time.monotonic()
            self.poll(deadline - time.monotonic())
        return self._replies.pop(rid).get("users", [])

    def events(self, timeout=None):
        """Yields events in order until ``timeout`` s have passed (None: ever):
        the bodies (dicts) of msg, join, leave, shutdown, dm, error; acks with
        report_acks; {t: lost, room, first_seq, count} for unrecoverable seqs."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            while self._events:
                yield self._events.popleft()
            left = 3600.0 if deadline is None else deadline - time.monotonic()
            if left <= 0:
                return
            self.poll(left)

    @property
    def unacked(self):
        return len(self._pending)

    def caught_up(self):
        """True when every acked message of ours has been delivered on SUB."""
        return all(self._last.get(r, s) >= s for r, s in self._acked_seq.items())

    def close(self):
        """Says bye when joined; closes the sockets (bounded linger)."""
        if not self._ctx.closed:
            if self._joined:
                self._transmit({"t": "bye"})
            self._sub.close(linger=0)
            self._dealer.close()
            self._ctx.term()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def poll(self, timeout=0.1, fds=()):
        """Handles traffic and timers for up to ``timeout`` s (a quarter
        heartbeat at most); returns those of ``fds`` ready to read."""
        for fd in fds:
            self._poller.register(fd, zmq.POLLIN)
        try:
            # Until the first hello is out, look again soon (20 ms).
            tick = self.hb_ivl / 4 if self._hello_sent > float("-inf") else 0.02
            if self._blocked is not None:  # a rate-limited retry is due sooner
                tick = min(tick, max(self._blocked[2] - time.monotonic(), 0.001))
            ready = dict(self._poller.poll(int(max(0.0, min(timeout, tick) * 1000))))
        finally:
            for fd in fds:
                self._poller.unregister(fd)
        for sock, handle, nframes in ((self._sub, self._on_published, 2),
                                      (self._dealer, self._on_reply, 1)):
            while sock in ready:
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                try:  # undecodable or malformed bodies are ignored
                    if len(frames) == nframes:
                        handle(check_event(decode(frames[-1])))
                except ValueError:
                    pass
        self._timers()
        return [fd for fd in fds if fd in ready]

    def _request(self, body):
        rid = body["id"] = next(self._ids)
        self._pending[rid] = _Pending(encode(body), body.get("room"), body["text"])
        self._send_queued()
        return rid

    def _send_queued(self):
        """Sends the pending requests within the window not sent yet."""
        if self._joined:
            self._resend(float("inf"))

    def _transmit(self, body):
        try:
            self._dealer.send(body if isinstance(body, bytes) else encode(body), zmq.NOBLOCK)
        except zmq.Again:  # IMMEDIATE: no connection to the broker now
            return False
        self._last_sent = time.monotonic()
        return True

    def _resend(self, older_than):
        """Sends the never-sent requests, and those unacked for
        ``older_than`` s, of the first WINDOW pending; while one is refused
        as rate-limited, only that one, when its pause is over."""
        now = time.monotonic()
        if self._blocked is not None:
            rid, pause, next_try = self._blocked
            if now >= next_try and self._transmit(self._pending[rid].body):
                self._pending[rid].sent = now
                self._blocked = (rid, pause, now + 2 * self.hb_ivl)  # unless answered
            return
        for entry in itertools.islice(self._pending.values(), WINDOW):
            if entry.sent is None or now - entry.sent >= older_than:
                if not self._transmit(entry.body):
                    return
                entry.sent = now

    def _say_hello(self):
        if self._displaced:
            return  # our session was resumed elsewhere: never take it back
        hello = {"t": "hello", "v": 1, "name": self.name, "rooms": self.rooms}
        hello.update({k: v for k, v in (("session", self.session), ("token", self.token)) if v})
        if self._transmit(hello):  # IMMEDIATE refuses it until connected
            self._hello_sent = time.monotonic()

    def _rejoin(self):
        if self._joined:
            self._joined = False
            self._say_hello()

    def _timers(self):
        now = time.monotonic()
        if self._joined and now - self._last_heard > self.liveness * self.hb_ivl:
            self._rejoin()  # the broker is silent: gone, or restarted
        if not self._joined:
            if now - self._hello_sent >= self.hb_ivl:
                self._say_hello()
            return
        if self._deferred is not None and now >= self._deferred[2]:
            self._apply_deferred()  # no hb after the welcome: a clock stepped back
        if now - self._last_sent >= self.hb_ivl:
            self._transmit({"t": "ping"})
        self._resend(2 * self.hb_ivl)
        self._request_fills()

    def _on_reply(self, m):
        self._last_heard = time.monotonic()
        m = _known(m)  # what is queued or kept, no more (PROTOCOL.md 10.2)
        t, rid, code = m.get("t"), m.get("id"), m.get("code")
        if t == "welcome":
            self._on_welcome(m)
        elif t == "ack":
            self._on_ack(rid, m.get("room"), m.get("seq"))
        elif t == "error" and code == "session-moved":
            self._joined, self._displaced, self.session = False, True, None
            raise ProtocolError(code, m.get("reason"))
        elif t == "error" and code == "no-session":
            # One hello per lost session: while it waits, or for a request
            # sent before the latest welcome, the error is stale.
            entry = self._pending.get(rid)
            if entry is None or entry.sent is None or entry.sent > self._welcome_at:
                self._rejoin()
        elif t == "error" and code == "rate-limited" and rid in self._pending:
            self._on_rate_limited(rid)
        elif t == "error" and rid is None and self.epoch is None:
            raise ProtocolError(code, m.get("reason"))
        elif t == "error" and not (code in ("shutting-down", "rate-limited", "unavailable") and rid in self._pending):
            if self._pending.pop(rid, None) is not None:  # refused for good (else retried later)
                if self._blocked is not None and self._blocked[0] == rid:
                    self._blocked = None
                self._send_queued()  # the window moved
            self._events.append(m)
        elif t == "history":
            self._on_history(m)
        elif t == "dm":
            self._events.append(m)
        elif t in ("who", "pong") and rid is not None:
            self._replies[rid] = m

    def _on_rate_limited(self, rid):
        """Holds everything newer than ``rid`` until it is accepted; retries
        it alone after a pause that doubles while it is refused."""
        pause = RATE_LIMITED_PAUSE
        if self._blocked is not None:
            blocked, last_pause, _ = self._blocked
            if rid > blocked:
                return  # sent before the refusal of an older one
            pause = min(2 * last_pause, self.hb_ivl / 2) if rid == blocked else pause
        self._blocked = (rid, pause, time.monotonic() + pause)

    def _on_ack(self, rid, room, seq):
        """Ends pending request ``rid``; a second ack for it is ignored."""
        if self._pending.pop(rid, None) is None:
            return
        if self._blocked is not None and self._blocked[0] == rid:
            self._blocked = None  # back to the whole window
        self.acked[rid] = seq
        if room in self._last and isinstance(seq, int):
            self._acked_seq[room] = max(self._acked_seq.get(room, 0), seq)
        if self.report_acks:
            self._events.append({k: v for k, v in (("t", "ack"), ("id", rid), ("room", room), ("seq", seq))
                                 if v is not None})
        self._send_queued()  # the window moved

    def _ack_by_publication(self, m):
        # The broker carries out a session's messages in order and publishes
        # each once, so a publication under our name is one of ours on the
        # wire: certain only when a single pending msg has its room and text.
        # One at or below a seq already acked to us is that message or an
        # earlier one, never a later pending one with the same text.
        if not isinstance(m.get("seq"), int) or m["seq"] <= self._acked_seq.get(m.get("room"), 0):
            return
        on_wire = itertools.takewhile(lambda item: item[1].sent is not None,
                                      itertools.islice(self._pending.items(), WINDOW))
        matches = [rid for rid, p in on_wire if p.room == m.get("room") and p.text == m.get("text")]
        if len(matches) == 1:
            self._on_ack(matches[0], m.get("room"), m.get("seq"))

    def _on_welcome(self, w):
        if self._joined:
            return  # the answer to a repeated hello
        first, new_epoch = self.epoch is None, self.epoch not in (None, w.get("epoch"))
        if new_epoch:
            self._end_epoch()
        self.session, self.epoch = w.get("session"), w.get("epoch")
        self.hb_ivl = max(w.get("hb_ivl", 1000), 10) / 1000
        self.liveness, self.max_text = max(w.get("liveness", 3), 1), w.get("max_text", 4096)
        rooms, self._deferred = w.get("rooms") or {}, None
        if first or new_epoch:
            for r in self.rooms:
                if new_epoch:  # a new history: start over from its beginning
                    self._last[r], self._announced[r], self._held[r], self._held_bytes[r] = 0, 0, {}, 0
                    self._held_newest[r] = 0
                    self._fill_paused.pop(r, None)  # the new epoch's first fill goes at once
                else:
                    self._last[r] = rooms.get(r, 0)
            self._announce(rooms)
            self._sys_last = w.get("sys_seq", 0)
        else:
            # A resume: what was published before this welcome may still wait
            # on the SUB (a client that stalled has a queue there); a fill
            # opened now would report it lost (PROTOCOL.md 10.1 step 5).
            deadline = time.monotonic() + self.liveness * self.hb_ivl
            self._deferred = (rooms, w.get("ts", 0), deadline)
        if new_epoch:
            self._acked_seq = {}  # seqs of an old epoch mean nothing in the new one
        self._welcome_sys_seq, self._welcome_at = w.get("sys_seq", 0), time.monotonic()
        self._joined, self._fill_sent = True, {}
        self._resend(0)  # pending requests first, in id order
        stash, self._stash, self._stash_bytes = self._stash, [], 0
        for m in stash:
            if m.get("epoch") in (None, self.epoch):
                self._on_published(m)
        self._request_fills()

    def _announce(self, rooms):
        """Raises each followed room's announced seq (an hb's or a welcome's)."""
        for room, last in rooms.items():
            if room in self._announced and isinstance(last, int):
                self._announced[room] = max(self._announced[room], last)

    def _apply_deferred(self):
        self._announce(self._deferred[0])
        self._deferred = None

    def _on_published(self, m):
        if m.get("t") in ("batch", "pack"):  # several msgs of one room: each in turn
            for item in pack_msgs(m) if m["t"] == "pack" else m.get("msgs") or []:
                if isinstance(item, dict):
                    self._on_published(item)
            return
        m = _known(m)  # what is stashed, held or queued, no more (PROTOCOL.md 10.2)
        self._last_heard, self._heard_sub = time.monotonic(), True
        if self._joined and m.get("epoch") not in (None, self.epoch):
            self._rejoin()  # the broker started a new epoch
        if not self._joined:
            # Kept for the welcome, as much as fits (PROTOCOL.md 10.2).
            cost = _stash_cost(m)
            if cost is not None and len(self._stash) < MAX_HELD and self._stash_bytes + cost <= MAX_HELD_BYTES:
                self._stash.append(m)
                self._stash_bytes += cost
            return
        t, seq, r = m.get("t"), m.get("seq"), m.get("room")
        if t == "msg" and r in self._last and isinstance(seq, int) and seq > self._last[r]:
            self._announced[r] = max(self._announced[r], seq)
            self._hold(r, m)
            self._release(r)
        elif t in ("join", "leave", "shutdown") and isinstance(seq, int) and seq > self._sys_last:
            self._sys_last = seq
            self._events.append(m)
            self._joined = self._joined and t != "shutdown"  # then hello until it is back
            if t == "leave" and m.get("name") == self.name and m.get("reason") != "bye" \
                    and seq > self._welcome_sys_seq:
                self._rejoin()  # the broker ended our session (a timeout we did not see)
        elif t == "hb":
            self._announce(m.get("rooms") or {})
            self._sys_last = max(self._sys_last, m.get("sys_seq", 0))
            if self._deferred is not None and m.get("ts", 0) >= self._deferred[1]:
                self._apply_deferred()  # the SUB has read all before the welcome
        self._request_fills()

    def _on_history(self, h):
        r = h.get("room")
        msgs = [_known(m) for m in h.get("msgs", []) if isinstance(m, dict) and isinstance(m.get("seq"), int)]
        if r not in self._last or h.get("epoch") != self.epoch:
            return  # not ours, or from before an epoch change
        self._fill_sent.pop(r, None)
        held, last = self._held[r], self._last[r]
        self._announced[r] = max(self._announced[r], h.get("last", 0))
        for m in msgs:
            if m["seq"] > last:
                self._hold(r, m)
        # Seqs older than the oldest kept, and not held from SUB, are gone.
        gone_until = min(h.get("first", 0), min(held) if held else self._announced[r] + 1)
        if gone_until > last + 1:
            self._lose(r, gone_until - 1)
        self._release(r)
        if self._last[r] == last:
            # History has nothing past last, yet a later seq was announced (one
            # never stored, such as a forged msg at 2^64 - 1): ask again after
            # hb_ivl, not once per round trip (PROTOCOL.md 10.2).
            self._fill_paused[r] = time.monotonic() + self.hb_ivl
        self._request_fills()

    def _end_epoch(self):
        """The old epoch's last word, before a new one resets the rooms: held
        messages are delivered; gaps, and seqs announced (or acked to us) but
        never received, are reported lost (PROTOCOL.md 10.4)."""
        for r in self.rooms:
            announced = max(self._announced[r], self._acked_seq.get(r, 0))
            for seq in sorted(self._held[r]):
                self._lose(r, seq - 1)
                self._last[r] = seq
                self._deliver(self._unhold(r, seq))
            self._lose(r, announced)

    def _lose(self, r, until):
        """Reports seqs after the room's last up to ``until`` lost and skips them."""
        if until > self._last[r]:
            self._events.append({"t": "lost", "room": r, "first_seq": self._last[r] + 1,
                                 "count": until - self._last[r]})
            self._last[r] = until

    def _hold(self, r, m):
        """Holds msg ``m`` of room ``r`` until the seqs before it are
        delivered, unless held already. Past MAX_HELD messages or
        MAX_HELD_BYTES the newest are let go (PROTOCOL.md 10.2): a message
        newer than all held is simply not kept."""
        held, seq, cost = self._held[r], m["seq"], _footprint(m)
        if seq in held:
            return
        if seq > self._held_newest[r] and (len(held) >= MAX_HELD or self._held_bytes[r] + cost > MAX_HELD_BYTES):
            return  # it would be the one let go: no scan of what is held
        held[seq] = m
        self._held_bytes[r] += cost
        self._held_newest[r] = max(self._held_newest[r], seq)
        while len(held) > MAX_HELD or self._held_bytes[r] > MAX_HELD_BYTES:
            self._unhold(r, self._held_newest[r])

    def _unhold(self, r, seq):
        """Takes held message ``seq`` of room ``r`` out, keeping the byte count right."""
        held = self._held[r]
        m = held.pop(seq)
        self._held_bytes[r] -= _footprint(m)
        if seq == self._held_newest[r]:
            self._held_newest[r] = max(held, default=0)  # the one scan, and only then
        return m

    def _release(self, r):
        while self._last[r] + 1 in self._held[r]:
            self._last[r] += 1
            self._deliver(self._unhold(r, self._last[r]))

    def _deliver(self, m):
        if m.get("from") == self.name:
            self._ack_by_publication(m)
        self._events.append(m)

    def _request_fills(self):
        now = time.monotonic()
        for r in self.rooms if self._joined else ():
            sent, paused = self._fill_sent.get(r), now < self._fill_paused.get(r, now)
            if self._announced[r] > self._last[r] and not paused and (sent is None or now - sent >= 2 * self.hb_ivl):
                if self._transmit({"t": "history", "room": r, "after": self._last[r], "limit": 1000}):
                    self._fill_sent[r] = now


class _Pending:
    """A msg or dm until its ack: its bytes, when last sent (None: not yet),
    and for a msg its room and text, to know it when it is published."""
    __slots__ = ("body", "sent", "room", "text")

    def __init__(self, body, room, text):
        self.body, self.sent, self.room, self.text = body, None, room, text


# -- the renderings of the C++ client (client/src/format.cpp) -------------------
def sanitize(text):
    return "".join("^" + chr(ord(c) + 0x40) if ord(c) < 0x20 else "^?" if c == "\x7f"
                   else f"\\u{ord(c):04x}" if "\x80" <= c <= "\x9f" else c for c in str(text))


def text_line(e):
    t, clock = e.get("t"), time.strftime("%H:%M:%S", time.localtime(e.get("ts", 0) / 1000))
    s, why = sanitize, e.get("reason") or "bye"
    if t == "msg" and str(e.get("text", "")).startswith("/me "):  # an action
        return f"{clock} * {s(e['from'])} {s(e['text'][4:])}"
    return {"msg": lambda: f"{clock} {s(e['from'])}: {s(e['text'])}",
            "dm": lambda: f"{clock} (private) {s(e['from'])}: {s(e['text'])}",
            "join": lambda: f"* {s(e['name'])} joined",
            "leave": lambda: f"* {s(e['name'])} left" + ("" if why == "bye" else f" ({s(why)})"),
            "lost": lambda: f"* {e['count']} message(s) in {e['room']} could not be recovered "
                            f"(seq {e['first_seq']}-{e['first_seq'] + e['count'] - 1})",
            "shutdown": lambda: "* server shut down — waiting for it to return"}.get(t, lambda: None)()


def json_string(text):
    return '"' + "".join("\\" + c if c in '"\\' else f"\\u{ord(c):04x}" if ord(c) < 0x20 else c
                         for c in str(text)) + '"'


JSON_FIELDS = {"msg": ("room", "seq", "ts", "from", "text"), "join": ("name", "ts"),
               "leave": ("name", "reason", "ts"), "dm": ("from", "text", "ts"),
               "lost": ("room", "first_seq", "count"), "ack": ("id", "room", "seq"),
               "error": ("code", "reason", "id")}


def json_line(e):
    if e.get("t") == "shutdown":
        return '{"type":"status","status":"server-shutdown","detail":' + json_string(e.get("reason", "")) + "}"
    return "{" + ",".join([f'"type":"{e["t"]}"'] + [
        f'"{k}":' + (json_string(e[k]) if isinstance(e[k], str) else str(e[k]))
        for k in JSON_FIELDS[e["t"]] if e.get(k) is not None]) + "}"


def chat(args):
    """Sends each stdin line and prints each event; at end of input waits until
    its messages are acked and seen, says bye; returns the exit code."""
    client = Client(args.name, args.in_ep, args.out_ep, rooms=args.room or ["lobby"],
                    token=args.token, timeout=args.timeout, report_acks=args.json,
                    server_key=args.server_key, key=args.key)
    if args.json:
        print('{"type":"status","status":"joined","detail":' + json_string(args.name) + "}", flush=True)
    code, partial, ended, number = 0, b"", None, 0
    try:
        while ended is None or client.unacked or not client.caught_up():
            if client.poll(0.1, () if ended else (0,)):
                chunk = os.read(0, 65536)
                *lines, partial = (partial + chunk).split(b"\n") if chunk else (partial, b"")
                ended = None if chunk else time.monotonic()
                for line in (line.removesuffix(b"\r") for line in lines):
                    number += 1
                    try:
                        if line and len(line) <= client.max_text:
                            client.send(line.decode())
                        elif line:
                            raise ValueError(f"is {len(line)} bytes; the limit is {client.max_text}")
                    except ValueError as e:  # UnicodeDecodeError is one too
                        print(f"bcast_client: line {number} not sent: {e}", file=sys.stderr)
                        code = 5
            for e in client.events(0):
                if e.get("t") == "error":
                    code = 5
                    if not args.json:
                        ref = f"message {e['id']} refused: " if e.get("id") is not None else ""
                        print(f"bcast_client: {ref}{e.get('code')}: {e.get('reason')}", file=sys.stderr)
                line = json_line(e) if args.json else text_line(e)
                if line is not None:
                    print(line, flush=True)
            if ended is not None and time.monotonic() - ended > args.timeout:
                print(f"bcast_client: {client.unacked} message(s) not acknowledged", file=sys.stderr)
                return 3
        return code
    except KeyboardInterrupt:
        return code
    finally:
        client.close()


def endpoint(spec):
    """A ZeroMQ endpoint for --in/--out as broadcast-server takes them: a
    bare port (5555: on localhost), host:port, [v6]:port, or an endpoint."""
    spec = str(spec)
    if "://" in spec:
        return spec
    host, sep, port = spec.rpartition(":")
    if not port.isdigit() or int(port) > 65535 or (sep and not host):
        raise argparse.ArgumentTypeError(
            f"'{spec}' is neither a port (5555), host:port nor an endpoint (tcp://host:5555)")
    return f"tcp://{host or '127.0.0.1'}:{port}"


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="A Python client for broadcast-server.",
        epilog="example: bcast_client.py chat --name alice --in 5555 --out 5556")
    p = parser.add_subparsers(dest="command", required=True).add_parser(
        "chat", help="send stdin lines to a room, print what happens there")
    p.add_argument("--name", required=True)
    p.add_argument("--in", dest="in_ep", type=endpoint,
                   default=endpoint(os.environ.get("BCAST_IN", "5555")),
                   help="the broker's request port, host:port or endpoint (default: $BCAST_IN or 5555)")
    p.add_argument("--out", dest="out_ep", type=endpoint,
                   default=endpoint(os.environ.get("BCAST_OUT", "5556")),
                   help="the broker's broadcast port, host:port or endpoint (default: $BCAST_OUT or 5556)")
    p.add_argument("--room", action="append", help="room to follow (the first gets what you send)")
    p.add_argument("--token", default=os.environ.get("BCAST_TOKEN"),
                   help="join token, when the broker requires one (default: $BCAST_TOKEN)")
    p.add_argument("--token-file", help="file whose first line is the join token (wins over --token)")
    p.add_argument("--server-key", help="the broker's public key file (NAME.key): encrypt with CURVE")
    p.add_argument("--key", help="your key file (NAME.key_secret), for a broker that admits keys")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the broker")
    p.add_argument("--json", action="store_true", help="print one JSON object per event")
    args = parser.parse_args(argv)
    if args.token_file:
        with open(args.token_file, encoding="utf-8") as f:
            args.token = f.readline().strip()
    try:
        return chat(args)
    except ProtocolError as e:
        print(f"bcast_client: {e.args[0]}: {e.args[1]}", file=sys.stderr)
        return 4 if e.args[0] in ("name-taken", "invalid-name") else 5
    except TimeoutError as e:
        print(f"bcast_client: {e}", file=sys.stderr)
        return 3
    except zmq.ZMQError as e:
        print(f"bcast_client: cannot connect to {args.in_ep} / {args.out_ep}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
