#!/usr/bin/python3
"""Load generator for bench/relay-scale: speaks the Ferry relay wire
protocol (XEP draft, "Relay Wire Protocol") with the standard library.

  idle N    : N connections each admitted as the sender of its own channel
              (unpaired), held open until stdin closes
  active N MB : N channels, each a sender streaming MB MiB of plaintext
              frames to its receiver; prints aggregate throughput
"""
import asyncio, hashlib, hmac, os, struct, sys, time

HOST, PORT = "127.0.0.1", int(os.environ["RELAY_PORT"])
SECRET = open(os.environ["SECRET_FILE"], "rb").read().rstrip(b"\r\n")
SENDER, RECEIVER = 1, 2


def new_id():
    return bytes(4) + struct.pack(">Q", int(time.time()) + 600) + os.urandom(20)


def proof(cid, challenge, role):
    key = hmac.new(SECRET, cid, hashlib.sha256).digest()
    msg = b"ferry proof v0" + challenge + bytes([role]) + cid
    return hmac.new(key, msg, hashlib.sha256).digest()


async def read_frame(r):
    hdr = await r.readexactly(4)
    n = int.from_bytes(hdr[1:], "big")
    return hdr[0], await r.readexactly(n)


async def admit(cid, role):
    r, w = await asyncio.open_connection(HOST, PORT)
    t, body = await read_frame(r)
    assert t == 0x01, t
    auth = bytes([0, role]) + cid + proof(cid, body[1:], role)
    w.write(bytes([0x02]) + len(auth).to_bytes(3, "big") + auth)
    t, body = await read_frame(r)
    if t != 0x03:
        raise RuntimeError("not admitted: type %#x %r" % (t, body))
    return r, w


async def idle(n):
    conns, sem = [], asyncio.Semaphore(500)

    async def one():
        async with sem:
            conns.append(await admit(new_id(), SENDER))

    await asyncio.gather(*(one() for _ in range(n)))
    print("idle: %d connections admitted" % len(conns), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


async def channel(mb, chunk=262144):
    cid = new_id()
    rr, rw = await admit(cid, RECEIVER)
    sr, sw = await admit(cid, SENDER)
    for r in (rr, sr):
        t, _ = await read_frame(r)
        assert t == 0x20, t  # PEER_JOINED
    payload = os.urandom(chunk + 16)
    frames = mb * 1048576 // chunk

    async def send():
        for i in range(frames):
            body = struct.pack(">Q", i) + payload
            sw.write(bytes([0x10]) + len(body).to_bytes(3, "big") + body)
            await sw.drain()

    async def recv():
        got = 0
        while got < frames:
            t, body = await read_frame(rr)
            if t == 0x10:
                got += 1
        return got * chunk

    _, n = await asyncio.gather(send(), recv())
    sw.close()
    rw.close()
    return n


async def active(n, mb):
    t0 = time.monotonic()
    sizes = await asyncio.gather(*(channel(mb) for _ in range(n)))
    dt = time.monotonic() - t0
    print("active: %d channels, %.0f MiB in %.2f s, aggregate %.0f MB/s"
          % (n, sum(sizes) / 1048576, dt, sum(sizes) / dt / 1e6), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "idle":
        asyncio.run(idle(int(sys.argv[2])))
    else:
        asyncio.run(active(int(sys.argv[2]), int(sys.argv[3])))
