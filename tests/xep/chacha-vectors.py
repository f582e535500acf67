#!/usr/bin/python3
"""ChaCha20-Poly1305 test vectors of the Ferry XEP, computed independently
of common/.

Follows xep/xep-ferry.xml only ("Ciphers", Key Derivation, END's digest,
Fan-out: keys), reusing the independent helpers of fanout-vectors.py
(hmac/hashlib, HKDF written out from RFC 5869) and python3-cryptography's
ChaCha20Poly1305 for the AEAD.

  chacha-vectors.py          print the vectors as in the XEP appendix
  chacha-vectors.py --kat    print them as "name hex" lines
                             (tests/data/chacha-kat.txt)
  chacha-vectors.py --check  check that the XEP's ChaCha20-Poly1305 block
                             and tests/data/chacha-kat.txt equal this output

Like fanout-vectors.py it first reproduces the existing one-to-one vectors
of the appendix, so the shared formulas are the document's.
"""
import hashlib
import importlib.util
import os
import sys

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "fanout_vectors", os.path.join(HERE, "fanout-vectors.py"))
fv = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fv)

KAT = os.path.join(fv.TOP, "tests", "data", "chacha-kat.txt")
LABEL = b"ferry content chacha20-poly1305 v0"


def content_key(shared, key, sid):
    """HKDF-SHA256(salt = channel or slot key, ikm = shared,
    info = "ferry content chacha20-poly1305 v0" | sid)."""
    return fv.hkdf_sha256(key, shared, LABEL + sid.encode())


def seal(key, direction, kind, number, sid, pt):
    return ChaCha20Poly1305(key).encrypt(fv.nonce(direction, kind, number),
                                         pt, fv.ad(kind, number, sid))


def chacha():
    """(name, hex) pairs, in order."""
    out = []
    cid = fv.channel_id(0, fv.EXPIRY, fv.RANDOM)
    key = fv.channel_key(fv.SECRET, cid)
    shared = fv.x25519(fv.ALICE_PRIV, fv.x25519_public(fv.BOB_PRIV))
    sid = "f3rry-test-1"
    ck = content_key(shared, key, sid)
    aes_ck = fv.content_key(shared, key, sid)
    assert ck != aes_ck
    msg = b"Hello, Ferry!"
    s0 = seal(ck, fv.DIR_TO_RECEIVER, fv.KIND_DATA, 0, sid, msg)
    dig = hashlib.sha256(fv.tags_digest_input(0, [s0])).digest()
    endpt = fv.u64(len(msg)) + dig
    end = seal(ck, fv.DIR_TO_RECEIVER, fv.KIND_END, 1, sid, endpt)
    ver = seal(ck, fv.DIR_TO_SENDER, fv.KIND_VERIFIED, 1, sid, endpt)
    out += [("chacha-content-key-info", (LABEL + sid.encode()).hex()),
            ("chacha-content-key", ck.hex()),
            ("chacha-chunk-0-sealed", s0.hex()),
            ("chacha-data-frame", fv.frame(fv.T_DATA, fv.u64(0) + s0).hex()),
            ("chacha-end-digest", dig.hex()),
            ("chacha-end-frame", fv.frame(fv.T_END, fv.u64(1) + end).hex()),
            ("chacha-verified-frame", fv.frame(fv.T_VERIFIED, ver).hex())]
    # Fan-out leg 0 (Bob in slot 0 of the fan-out vectors' channel): its
    # leg key under the chacha label, K wrapped under it, and DATA 0 sealed
    # under K with ChaCha20-Poly1305.
    fsid = fv.FANOUT_SID
    fcid = fv.channel_id(fv.FANOUT_SLOTS, fv.EXPIRY, fv.RANDOM)
    sk0 = fv.slot_key(fv.channel_key(fv.SECRET, fcid), 0)
    leg0 = content_key(shared, sk0, fsid)
    kf = fv.frame(fv.T_KEY, seal(leg0, fv.DIR_TO_RECEIVER, fv.KIND_KEY, 0,
                                 fsid, fv.TRANSFER_KEY))
    d0 = seal(fv.TRANSFER_KEY, fv.DIR_TO_RECEIVER, fv.KIND_DATA, 0, fsid,
              fv.CHUNKS[0])
    out += [("chacha-fanout-leg-key-0", leg0.hex()),
            ("chacha-fanout-key-frame-0", kf.hex()),
            ("chacha-fanout-data-frame-0",
             fv.frame(fv.T_DATA, fv.u64(0) + d0).hex())]
    return out


def kat_inputs():
    """The inputs, so that tests/data/chacha-kat.txt is enough for a test
    on its own (the XEP gives them in the other blocks)."""
    cid = fv.channel_id(0, fv.EXPIRY, fv.RANDOM)
    fcid = fv.channel_id(fv.FANOUT_SLOTS, fv.EXPIRY, fv.RANDOM)
    return [("chacha-in-channel-key", fv.channel_key(fv.SECRET, cid).hex()),
            ("chacha-in-x25519-shared",
             fv.x25519(fv.ALICE_PRIV, fv.x25519_public(fv.BOB_PRIV)).hex()),
            ("chacha-in-sid", b"f3rry-test-1".hex()),
            ("chacha-in-plaintext", b"Hello, Ferry!".hex()),
            ("chacha-in-fanout-slot-key-0",
             fv.slot_key(fv.channel_key(fv.SECRET, fcid), 0).hex()),
            ("chacha-in-fanout-sid", fv.FANOUT_SID.encode().hex()),
            ("chacha-in-fanout-transfer-key", fv.TRANSFER_KEY.hex()),
            ("chacha-in-fanout-chunk-0", fv.CHUNKS[0].hex())]


def main():
    fv.reproduce_existing()
    v = chacha()
    if sys.argv[1:] == ["--kat"]:
        print("\n".join("%s %s" % nv for nv in kat_inputs() + v))
    elif sys.argv[1:] == ["--check"]:
        bad = 0
        doc = fv.xep_block("ChaCha20-Poly1305 test vectors") or {}
        kat = {}
        with open(KAT, encoding="ascii") as f:
            for line in f:
                p = line.split()
                if len(p) == 2 and not line.startswith("#"):
                    kat[p[0]] = p[1]
        for name, value in kat_inputs() + v:
            if name.startswith("chacha-in-"):
                if kat.get(name) != value:
                    print("FAIL: %s %s" % (KAT, name))
                    bad += 1
                continue
            for where, got in (("XEP", doc.get(name)), (KAT, kat.get(name))):
                if got != value:
                    print("FAIL: %s %s: %s, computed %s" % (where, name, got,
                                                            value))
                    bad += 1
        print("chacha-vectors: %d vectors, %d differ" % (len(v), bad))
        sys.exit(1 if bad else 0)
    elif sys.argv[1:]:
        sys.exit(__doc__)
    else:
        print("\n".join("%s: %s" % nv for nv in v))


if __name__ == "__main__":
    main()
