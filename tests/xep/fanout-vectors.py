#!/usr/bin/python3
"""Fan-out test vectors of the Ferry XEP, computed independently of common/.

Follows the formulas of xep/xep-ferry.xml only (Key Derivation, END's
digest, Fan-out: keys) with Python's hmac/hashlib and python3-cryptography
(X25519, AES-256-GCM); HKDF is written out from RFC 5869.

  fanout-vectors.py          print the fan-out vectors as in the XEP appendix
  fanout-vectors.py --kat    print them as "name hex" lines (tests/data/fanout-kat.txt)
  fanout-vectors.py --check  first reproduce the XEP's existing one-to-one
                             vectors, then check that the XEP's fan-out block
                             and tests/data/fanout-kat.txt equal this output

Before it prints anything, it reproduces the existing one-to-one vectors of
the appendix (channel key, proofs, content key, DATA, END, VERIFIED, stream)
and stops if one differs, so its formulas are the document's.
"""
import hashlib
import hmac
import os
import re
import struct
import sys

from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey, X25519PublicKey)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives import serialization

TOP = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", ".."))
XEP = os.path.join(TOP, "xep", "xep-ferry.xml")
KAT = os.path.join(TOP, "tests", "data", "fanout-kat.txt")

DIR_TO_RECEIVER, DIR_TO_SENDER = 1, 2
KIND_DATA, KIND_END, KIND_VERIFIED, KIND_KEY, KIND_CHECK = 1, 2, 3, 4, 5
ROLE_SENDER, ROLE_RECEIVER = 1, 2
T_AUTH, T_DATA, T_END, T_VERIFIED, T_KEY, T_CHECK, T_LEG = (
    0x02, 0x10, 0x11, 0x14, 0x15, 0x16, 0x24)


def u64(n):
    return struct.pack(">Q", n)


def hmac256(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()


def hkdf_sha256(salt, ikm, info, length=32):
    """RFC 5869, written out."""
    prk = hmac256(salt, ikm)
    okm, t, i = b"", b"", 1
    while len(okm) < length:
        t = hmac256(prk, t + info + bytes([i]))
        okm += t
        i += 1
    return okm[:length]


def x25519(priv, pub):
    k = X25519PrivateKey.from_private_bytes(priv)
    return k.exchange(X25519PublicKey.from_public_bytes(pub))


def x25519_public(priv):
    return X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def channel_id(slots, expiry, rnd):
    # version u8 (0) | slots u8 | reserved u8[2] (0) | expiry u64 | random[20]
    return bytes([0, slots, 0, 0]) + u64(expiry) + rnd


def channel_key(secret, cid):
    return hmac256(secret, cid)


def proof(key, challenge, role, cid):
    return hmac256(key, b"ferry proof v0" + challenge + bytes([role]) + cid)


def slot_key(chan_key, slot):
    return hmac256(chan_key, b"ferry slot v0" + bytes([slot]))


def content_key(shared, key, sid):
    # salt = channel key (one-to-one) or slot key (a fan-out leg key)
    return hkdf_sha256(key, shared, b"ferry content v0" + sid.encode())


def nonce(direction, kind, number):
    return bytes([direction, kind, 0, 0]) + u64(number)


def ad(kind, number, sid):
    return bytes([kind]) + u64(number) + sid.encode()


def seal(key, direction, kind, number, sid, pt):
    return AESGCM(key).encrypt(nonce(direction, kind, number), pt,
                               ad(kind, number, sid))


def frame(ftype, body):
    return bytes([ftype]) + len(body).to_bytes(3, "big") + body


def tags_digest_input(first, sealed):
    return b"ferry tags v0" + u64(first) + b"".join(s[-16:] for s in sealed)


def element(sealed):
    """element(n) = SHA-256(the whole sealed body of DATA n)."""
    return hashlib.sha256(sealed).digest()


def sealed_digest_input(first, sealed):
    """A fan-out digest's input: the label, first, then element(first),
    element(first+1), ... of the sealed bodies given (chunks first..)."""
    return b"ferry sealed v0" + u64(first) + b"".join(element(s)
                                                      for s in sealed)


SECRET = b"ferry test secret, 32 bytes long"
EXPIRY = 1767225600  # 2026-01-01T00:00:00Z
RANDOM = bytes(range(1, 21))
CHALLENGE = bytes(range(0xa0, 0xc0))
ALICE_PRIV = bytes.fromhex(
    "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
BOB_PRIV = bytes.fromhex(
    "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")


def one_to_one():
    """The existing appendix vectors, recomputed: (name, value) pairs."""
    out = []
    cid = channel_id(0, EXPIRY, RANDOM)
    key = channel_key(SECRET, cid)
    a_pub, b_pub = x25519_public(ALICE_PRIV), x25519_public(BOB_PRIV)
    shared = x25519(ALICE_PRIV, b_pub)
    assert shared == x25519(BOB_PRIV, a_pub)
    sid = "f3rry-test-1"
    ck = content_key(shared, key, sid)
    msg = b"Hello, Ferry!"
    s0 = seal(ck, DIR_TO_RECEIVER, KIND_DATA, 0, sid, msg)
    dig = hashlib.sha256(tags_digest_input(0, [s0])).digest()
    endpt = u64(len(msg)) + dig
    end = seal(ck, DIR_TO_RECEIVER, KIND_END, 1, sid, endpt)
    ver = seal(ck, DIR_TO_SENDER, KIND_VERIFIED, 1, sid, endpt)
    out += [("channel-id", cid.hex()), ("channel-key", key.hex()),
            ("proof-sender", proof(key, CHALLENGE, ROLE_SENDER, cid).hex()),
            ("proof-receiver", proof(key, CHALLENGE, ROLE_RECEIVER, cid).hex()),
            ("sender-x25519-public", a_pub.hex()),
            ("receiver-x25519-public", b_pub.hex()),
            ("x25519-shared", shared.hex()), ("content-key", ck.hex()),
            ("chunk-0-sealed", s0.hex()),
            ("data-frame", frame(T_DATA, u64(0) + s0).hex()),
            ("end-digest-input", tags_digest_input(0, [s0]).hex()),
            ("end-digest", dig.hex()),
            ("end-frame", frame(T_END, u64(1) + end).hex()),
            ("verified-ad", ad(KIND_VERIFIED, 1, sid).hex()),
            ("verified-frame", frame(T_VERIFIED, ver).hex())]
    # The stream: two short chunks, END alone fixes count 2 and size 13.
    sid = "f3rry-stream-1"
    ck = content_key(shared, key, sid)
    sealed = [seal(ck, DIR_TO_RECEIVER, KIND_DATA, n, sid, c)
              for n, c in enumerate([b"Hello,", b"stream!"])]
    dig = hashlib.sha256(tags_digest_input(0, sealed)).digest()
    end = seal(ck, DIR_TO_RECEIVER, KIND_END, 2, sid, u64(13) + dig)
    out += [("stream-content-key", ck.hex()),
            ("stream-data-frame-1", frame(T_DATA, u64(1) + sealed[1]).hex()),
            ("stream-end-digest", dig.hex()),
            ("stream-end-frame", frame(T_END, u64(2) + end).hex())]
    return out


def xep_block(caption):
    """name -> value of the XEP appendix code block with this caption."""
    with open(XEP, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"<code caption='" + re.escape(caption) +
                  r"'><!\[CDATA\[(.*?)\]\]></code>", text, re.S)
    if m is None:
        return None
    vals = {}
    for line in m.group(1).splitlines():
        if ": " in line:
            k, v = line.split(": ", 1)
            vals[k] = v
    return vals


def reproduce_existing():
    doc = xep_block("Test vectors")
    if doc is None:
        sys.exit("fanout-vectors: no 'Test vectors' block in " + XEP)
    n = 0
    for name, value in one_to_one():
        if doc.get(name) != value:
            sys.exit("fanout-vectors: %s differs from the XEP:\n  xep:  %s\n"
                     "  here: %s" % (name, doc.get(name), value))
        n += 1
    return n


# Fan-out inputs: the appendix's secret, expiry, random bytes, challenge and
# the RFC 7748 keys (Alice the sender, Bob receiver 0), plus a second
# receiver (slot 1) with the private key 40..5f and a transfer key c0..df.
FANOUT_SLOTS = 3
FANOUT_SID = "f3rry-fanout-1"
CAROL_PRIV = bytes(range(0x40, 0x60))
TRANSFER_KEY = bytes(range(0xc0, 0xe0))
CHUNKS = [b"Hello,", b"fan-out!"]


def fanout():
    """The fan-out vectors: (name, value, is_text) triples, in order."""
    v = []

    def put(name, value, text=False):
        v.append((name, value if text else value.hex(), text))

    sid = FANOUT_SID
    cid = channel_id(FANOUT_SLOTS, EXPIRY, RANDOM)
    key = channel_key(SECRET, cid)
    sk = [slot_key(key, i) for i in range(FANOUT_SLOTS)]
    put("fanout-channel-id", cid)
    put("fanout-channel-key", key)
    put("fanout-slot-key-input-0", b"ferry slot v0" + bytes([0]))
    for i in range(FANOUT_SLOTS):
        put("fanout-slot-key-%d" % i, sk[i])
    p2 = proof(sk[2], CHALLENGE, ROLE_RECEIVER, cid)
    put("fanout-proof-receiver-slot-2", p2)
    put("fanout-auth-frame-receiver-slot-2",
        frame(T_AUTH, bytes([0, ROLE_RECEIVER]) + cid + p2 + bytes([2])))
    a_pub = x25519_public(ALICE_PRIV)
    recv_priv = [BOB_PRIV, CAROL_PRIV]
    put("fanout-sid", sid, True)
    put("fanout-transfer-key", TRANSFER_KEY)
    leg = []
    for i, priv in enumerate(recv_priv):
        pub = x25519_public(priv)
        shared = x25519(ALICE_PRIV, pub)
        assert shared == x25519(priv, a_pub)
        leg.append(content_key(shared, sk[i], sid))
        if i == 1:
            put("receiver-1-x25519-private", priv)
        put("receiver-%d-x25519-public" % i, pub)
        put("receiver-%d-x25519-shared" % i, shared)
        put("fanout-leg-key-%d" % i, leg[i])
    put("fanout-key-nonce", nonce(DIR_TO_RECEIVER, KIND_KEY, 0))
    put("fanout-key-ad", ad(KIND_KEY, 0, sid))
    for i in range(len(leg)):
        kf = frame(T_KEY, seal(leg[i], DIR_TO_RECEIVER, KIND_KEY, 0, sid,
                               TRANSFER_KEY))
        put("fanout-key-frame-%d" % i, kf)
        if i == 0:
            put("fanout-leg-frame-key-0", frame(T_LEG, bytes([i]) + kf))
    sealed = []
    for n, c in enumerate(CHUNKS):
        s = seal(TRANSFER_KEY, DIR_TO_RECEIVER, KIND_DATA, n, sid, c)
        sealed.append(s)
        put("fanout-chunk-%d-plaintext" % n, c.decode(), True)
        put("fanout-data-frame-%d" % n, frame(T_DATA, u64(n) + s))
    for n, s in enumerate(sealed):
        put("fanout-element-%d" % n, element(s))
    # CHECK(1) to leg 0, as the sender would send it right after DATA 0 if
    # chunk 1 began past a multiple of 64 MiB: the digest so far (chunks
    # 0..0), sealed under L(0) with kind 5 and number 1.
    cinput = sealed_digest_input(0, sealed[:1])
    cdig = hashlib.sha256(cinput).digest()
    put("fanout-check-digest-input-1", cinput)
    put("fanout-check-digest-1", cdig)
    put("fanout-check-nonce-1", nonce(DIR_TO_RECEIVER, KIND_CHECK, 1))
    put("fanout-check-ad-1", ad(KIND_CHECK, 1, sid))
    cf = frame(T_CHECK, u64(1) + seal(leg[0], DIR_TO_RECEIVER, KIND_CHECK, 1,
                                      sid, cdig))
    put("fanout-check-frame-1", cf)
    put("fanout-leg-frame-check-1", frame(T_LEG, bytes([0]) + cf))
    count, size = len(CHUNKS), sum(len(c) for c in CHUNKS)
    dinput = sealed_digest_input(0, sealed)
    dig = hashlib.sha256(dinput).digest()
    put("fanout-digest-input", dinput)
    put("fanout-digest", dig)
    endpt = u64(size) + dig
    put("fanout-end-plaintext", endpt)
    put("fanout-end-nonce", nonce(DIR_TO_RECEIVER, KIND_END, count))
    put("fanout-end-ad", ad(KIND_END, count, sid))
    for i in range(len(leg)):
        ef = frame(T_END, u64(count) + seal(leg[i], DIR_TO_RECEIVER, KIND_END,
                                            count, sid, endpt))
        put("fanout-end-frame-%d" % i, ef)
        put("fanout-leg-frame-end-%d" % i, frame(T_LEG, bytes([i]) + ef))
    vf = frame(T_VERIFIED, seal(leg[0], DIR_TO_SENDER, KIND_VERIFIED, count,
                                sid, endpt))
    put("fanout-verified-frame-0", vf)
    put("fanout-leg-frame-verified-0", frame(T_LEG, bytes([0]) + vf))
    return v


def xep_lines(v):
    return ["%s: %s" % (n, x) for n, x, _ in v]


# The fixed inputs that the XEP states in prose or in the one-to-one block,
# so that tests/data/fanout-kat.txt is enough for a test on its own.
KAT_INPUTS = [("fanout-shared-secret", SECRET), ("fanout-challenge", CHALLENGE),
              ("sender-x25519-private", ALICE_PRIV),
              ("receiver-0-x25519-private", BOB_PRIV)]


def kat_lines(v):
    return (["%s %s" % (n, x.hex()) for n, x in KAT_INPUTS] +
            ["%s %s" % (n, x.encode().hex() if text else x)
             for n, x, text in v])


def main():
    n = reproduce_existing()
    v = fanout()
    if sys.argv[1:] == ["--kat"]:
        print("\n".join(kat_lines(v)))
    elif sys.argv[1:] == ["--check"]:
        bad = 0
        doc = xep_block("Fan-out test vectors") or {}
        for name, value, _ in v:
            if doc.get(name) != value:
                print("FAIL: XEP %s: %s, computed %s" % (name, doc.get(name),
                                                         value))
                bad += 1
        kat = {}
        with open(KAT, encoding="ascii") as f:
            for line in f:
                p = line.split()
                if len(p) == 2 and not line.startswith("#"):
                    kat[p[0]] = p[1]
        for line in kat_lines(v):
            name, value = line.split(" ")
            if kat.get(name) != value:
                print("FAIL: %s %s: %s, computed %s" % (KAT, name,
                                                        kat.get(name), value))
                bad += 1
        print("fanout-vectors: %d existing vectors reproduced; %d fan-out "
              "vectors, %d differ" % (n, len(v), bad))
        sys.exit(1 if bad else 0)
    elif sys.argv[1:]:
        sys.exit(__doc__)
    else:
        print("\n".join(xep_lines(v)))


if __name__ == "__main__":
    main()
