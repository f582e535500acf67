#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets, tests/fuzz/corpus/TARGET/,
from the XEP's examples, the sample configs and hand-made inputs. Run from
the source tree after the protocol or a config changes; the frame seeds
(corpus/frame/) come from the relay's tests and are kept as they are."""
import hashlib
import os
import re
import struct
import sys

top = os.path.abspath(os.path.join(os.path.dirname(sys.argv[0]), "..", ".."))
corpus = os.path.join(top, "tests", "fuzz", "corpus")


def put(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def frame(t, body):
    return bytes([t]) + struct.pack(">I", len(body))[1:] + body


# --- xep examples ---------------------------------------------------------
xep = open(os.path.join(top, "xep", "xep-ferry.xml")).read()
examples = re.findall(r"<example caption='([^']*)'><!\[CDATA\[(.*?)\]\]></example>",
                      xep, re.S)


def slug(s):
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")[:40]


def as_local(x):
    """The example as it reaches bob@localhost/cli from alice@localhost/cli."""
    x = x.replace("alice@example.org/desk", "alice@localhost/cli")
    x = x.replace("bob@example.net/phone", "bob@localhost/cli")
    x = x.replace("bob@example.net", "bob@localhost/cli")
    x = x.replace("ferry.example.org", "ferry.localhost")
    return x.replace("example.org", "localhost")


for caption, x in examples:
    x = x.strip()
    put("stanza", slug(caption) + ".xml", x)
    if x.startswith("<iq") and ("type='set'" in x or "type='get'" in x):
        put("component", slug(caption) + ".xml", as_local(x))
    if x.startswith("<message") or x.startswith("<iq"):
        put("libferry", slug(caption) + ".bin", b"\x00" + as_local(x).encode())

# component: what main.c dispatches besides the examples
for n, x in {
    "ping": "<iq type='get' from='a@localhost/x' to='ferry.localhost' id='p'><ping xmlns='urn:xmpp:ping'/></iq>",
    "version": "<iq type='get' from='a@localhost/x' to='ferry.localhost' id='v'><query xmlns='jabber:iq:version'/></iq>",
    "unknown-ns": "<iq type='get' from='a@localhost/x' to='ferry.localhost' id='u'><query xmlns='urn:other'/></iq>",
    "no-payload": "<iq type='set' from='a@localhost/x' to='ferry.localhost' id='n'/>",
    "bad-type": "<iq type='weird' from='a@localhost/x' id='w'><x/></iq>",
    "bare-from": "<iq type='set' from='bob@localhost' to='ferry.localhost' id='b'><request xmlns='urn:xmpp:ferry:0' sid='s1' peer='alice@localhost/cli' role='sender' size='1'/></iq>",
    "deliver-bare-peer": "<iq type='set' from='bob@localhost/cli' to='ferry.localhost' id='d'><request xmlns='urn:xmpp:ferry:0' sid='s1' peer='alice@localhost' role='sender' size='1' deliver='true'/></iq>",
    "too-large": "<iq type='set' from='bob@localhost/cli' to='ferry.localhost' id='t'><request xmlns='urn:xmpp:ferry:0' sid='s1' peer='alice@localhost/cli' role='receiver' size='9223372036854775807'/></iq>",
    "other-domain": "<iq type='set' from='m@evil.example/x' to='ferry.localhost' id='e'><request xmlns='urn:xmpp:ferry:0' sid='s1' peer='alice@localhost/cli' role='receiver' size='5'/></iq>",
    "fanout-request": "<iq type='set' from='alice@localhost/cli' to='ferry.localhost' id='f'><request xmlns='urn:xmpp:ferry:0' sid='s1' peer='bob@localhost/cli' role='sender' size='1048576' slots='3'><leg jid='bob@localhost/cli'/><leg jid='carol@localhost/phone'/><leg jid='dave@localhost/desk'/></request></iq>",
    "fanout-no-peer": "<iq type='set' from='alice@localhost/cli' to='ferry.localhost' id='g'><request xmlns='urn:xmpp:ferry:0' sid='s1' role='sender' slots='2'><leg jid='bob@localhost/cli'/><leg jid='carol@localhost/phone'/></request></iq>",
    "fanout-leg-count": "<iq type='set' from='alice@localhost/cli' to='ferry.localhost' id='h'><request xmlns='urn:xmpp:ferry:0' sid='s1' peer='bob@localhost/cli' role='sender' size='1' slots='3'><leg jid='bob@localhost/cli'/><leg jid='bob@localhost/cli'/></request></iq>",
}.items():
    put("component", n + ".xml", x)

# libferry: sequences (flags byte, stanzas separated by NUL)
offer = ("<message from='alice@localhost/cli' to='bob@localhost/cli' id='o1'>"
         "<offer xmlns='urn:xmpp:ferry:0' sid='Zx3v9QkTn2WbL7aP' name='a.bin' "
         "size='1048576' media-type='application/octet-stream' chunk-size='65536' "
         "key='hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=' requester='receiver'/>"
         "<body>file offered</body></message>")
cancel = ("<message from='alice@localhost/cli' to='bob@localhost/cli' id='c1'>"
          "<cancel xmlns='urn:xmpp:ferry:0' sid='Zx3v9QkTn2WbL7aP' reason='cancelled'/></message>")
err = ("<message type='error' from='alice@localhost/cli' to='bob@localhost/cli' id='x'>"
       "<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
items = ("<iq type='result' from='localhost' to='bob@localhost/cli' id='items1'>"
         "<query xmlns='http://jabber.org/protocol/disco#items'><item jid='ferry.localhost'/></query></iq>")
put("libferry", "offer-then-cancel.bin", b"\x00" + "\0".join([offer, cancel]).encode())
put("libferry", "offer-declined.bin", b"\x01" + offer.encode())
put("libferry", "offer-twice-error.bin", b"\x00" + "\0".join([offer, offer, err]).encode())
put("libferry", "discovery.bin", b"\x02" + items.encode())
# XEP "Ciphers": a list with an unknown name first, and one of unknown
# names only (declined not-acceptable).
put("libferry", "offer-ciphers.bin", b"\x00" + offer.replace(
    "requester='receiver'/>",
    "requester='receiver' ciphers='aegis-256 chacha20-poly1305 aes-256-gcm'/>").encode())
put("libferry", "offer-no-known-cipher.bin", b"\x00" + offer.replace(
    "requester='receiver'/>", "requester='receiver' ciphers='aegis-256'/>").encode())
put("libferry", "many-offers.bin", b"\x00" + "\0".join(
    offer.replace("Zx3v9QkTn2WbL7aP", "sid%02d" % i) for i in range(12)).encode())

# --- frames for the ring: [capacity][body limit] ([control][bytes])* ------
def ring_input(cap, limit, stream, step, take):
    out = bytes([cap, limit])
    i = 0
    while i < len(stream):
        k = min(step, len(stream) - i)
        out += bytes([(take << 6) | (k - 1)]) + stream[i:i + k]
        i += k
    return out


frames = [frame(0x10, bytes(8) + bytes(range(40))), frame(0x12, bytes(8)),
          frame(0x23, b""), frame(0x22, b"\0\0\1\0"), frame(0x11, bytes(56))]
stream = b"".join(frames)
put("ring", "whole-frames", ring_input(16, 64, stream, 64, 3))
put("ring", "byte-by-byte", ring_input(0, 64, stream, 1, 1))
put("ring", "half-taken", ring_input(4, 64, stream, 7, 2))
put("ring", "refused", ring_input(8, 64, stream[:20] + frame(0xff, b"x"), 9, 3))
put("ring", "too-long", ring_input(8, 16, frame(0x10, bytes(40)), 13, 0))

# --- http: [limit][step] request --------------------------------------------
for n, (lim, step, req) in {
    "prometheus": (255, 16, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:5291\r\n"
                   "User-Agent: Prometheus/2.42.0\r\nAccept: application/openmetrics-text;"
                   "version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n"
                   "Accept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n"),
    "component-probe": (64, 0, "GET /metrics HTTP/1.0\r\n\r\n"),
    "head-bare-lf": (64, 2, "HEAD / HTTP/1.1\nHost: x\n\n"),
    "post": (64, 5, "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"),
    "too-long": (2, 3, "GET / HTTP/1.1\r\nX-Pad: " + "a" * 200 + "\r\n\r\n"),
    "garbage": (10, 1, "\x02\x00\x00\x43\x00"),
}.items():
    put("http", n, bytes([lim, step]) + req.encode())

# --- codec ------------------------------------------------------------------
for n, v in {"hex32": "00ff" * 16, "b64key": "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=",
             "b64pad2": "Zg==", "b64pad1": "Zm8=", "u64max": "18446744073709551615",
             "u64zero": "0", "u64lead": "007", "hexupper": "ABCD"}.items():
    put("codec", n, v)

# --- state: "sid size chunk next peer\n" -------------------------------------
put("state", "valid", "Zx3v9QkTn2WbL7aP 268435456 262144 17 alice@localhost/cli\n")
put("state", "zero", "s 0 1024 0 a@b/c\n")
put("state", "two-lines", "s 1 1024 0 a@b/c\ns 1 1024 0 a@b/c\n")
put("state", "big", "s 18446744073709551615 4294967295 18446744073709551615 a@b/c\n")

# --- conf ---------------------------------------------------------------------
put("conf", "relay-sample.conf", open(os.path.join(top, "relay", "ferry-relay.conf")).read())
put("conf", "component-sample.conf",
    open(os.path.join(top, "component", "ferry-component.conf")).read())
put("conf", "relays.conf", "[channels]\nrelays = a.example:5290,tls,weight=3;[::1]:5293,stats=[::1]:5291;"
    "127.0.0.1:1,weight=2147483647\n[limits]\nmax_frame = 1048600\n")
put("conf", "errors.conf", "[relay]\nlisten = 127.0.0.1:1\nbogus = 1\n[limits]\nmax_frame = 5\n"
    "[nope]\nx=1\n[policy]\nmax_file_size = -1\n")
