"""Writes the known-answer files of this directory from implementations independent of ours.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install pycryptodome py_ecc==8.0.0
    /tmp/venv/bin/python generate.py

- signing_root.json: keccak256 from pycryptodome, the preimage laid out by hand from
  docs/signing.md (abi.encode of seven 32-byte words).
- eip2537.json: py_ecc 8.0.0 (G2ProofOfPossession, its hash_to_G2 and point decompression);
  the EIP-2537 bytes are written from py_ecc's affine coordinates: each base-field element
  as 16 zero bytes then 48 bytes big-endian, G2 as x.c0 || x.c1 || y.c0 || y.c1.
"""

import json
import os
from hashlib import sha256

from Crypto.Hash import keccak
from py_ecc.bls import G2ProofOfPossession as bls
from py_ecc.bls.g2_primitives import G1_to_pubkey, G2_to_signature, pubkey_to_G1, signature_to_G2
from py_ecc.bls.hash_to_curve import hash_to_G2
from py_ecc.optimized_bls12_381 import Z1, is_inf, normalize

HERE = os.path.dirname(os.path.abspath(__file__))
SIG_DST = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"


def keccak256(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()


def hx(b: bytes) -> str:
    return "0x" + b.hex()


def word(n: int) -> bytes:
    return n.to_bytes(32, "big")


def signing_roots():
    tag = b"claystack-oracle/report-signature/v1"
    domain = keccak256(tag)
    cases = [
        dict(chain_id=17000, node_manager=bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3"), kind=0,
             number=1, merkle_root=bytes(range(32)), report_hash=bytes(range(0xe0, 0x100))),
        dict(chain_id=2**64 - 1, node_manager=bytes([0xff] * 20), kind=1, number=0x0102030405060708,
             merkle_root=bytes([0xab] * 32), report_hash=keccak256(b"report.json")),
    ]
    out = []
    for c in cases:
        preimage = (domain + word(c["chain_id"]) + bytes(12) + c["node_manager"] + word(c["kind"]) + word(c["number"])
                    + c["merkle_root"] + c["report_hash"])
        assert len(preimage) == 224
        out.append(dict(chain_id=c["chain_id"], node_manager=hx(c["node_manager"]), kind=c["kind"],
                        number=c["number"], merkle_root=hx(c["merkle_root"]), report_hash=hx(c["report_hash"]),
                        preimage=hx(preimage), signing_root=hx(keccak256(preimage))))
    return dict(produced_by="generate.py with pycryptodome keccak (digest_bits=256)", domain_tag=tag.decode(),
                report_domain=hx(domain), cases=out)


def fp(v: int) -> bytes:
    return bytes(16) + v.to_bytes(48, "big")


def g1_eip2537(pt) -> bytes:
    if is_inf(pt):
        return bytes(128)
    x, y = normalize(pt)
    return fp(x.n) + fp(y.n)


def g2_eip2537(pt) -> bytes:
    if is_inf(pt):
        return bytes(256)
    x, y = normalize(pt)
    return fp(x.coeffs[0]) + fp(x.coeffs[1]) + fp(y.coeffs[0]) + fp(y.coeffs[1])


def eip2537():
    # Secret keys: small ones, the consensus-spec test key, and SHA-256-derived ones taken below 2^254 (< the group order).
    sks = [1, 2, 0x263DBD792F5B1BE47ED85F8938C0F29586AF0D3AC7B977F21C278FE1462040E3]
    sks += [int.from_bytes(sha256(b"claystack-committee-vector-%d" % i).digest(), "big") % 2**254 for i in range(3)]
    msg = keccak256(b"claystack signing root")
    g1, sigs = [], []
    for sk in sks:
        pk = bls.SkToPk(sk)
        sig = bls.Sign(sk, msg)
        assert bls.Verify(pk, msg, sig)
        g1.append(dict(compressed=hx(pk), eip2537=hx(g1_eip2537(pubkey_to_G1(pk)))))
        sigs.append(dict(secret_key=hx(sk.to_bytes(32, "big")), message=hx(msg), compressed=hx(sig),
                         eip2537=hx(g2_eip2537(signature_to_G2(sig)))))
    agg = bls.Aggregate([bytes.fromhex(s["compressed"][2:]) for s in sigs])
    sigs.append(dict(secret_key=None, message=hx(msg), compressed=hx(agg), eip2537=hx(g2_eip2537(signature_to_G2(agg)))))
    g1.append(dict(compressed=hx(G1_to_pubkey(Z1)), eip2537=hx(bytes(128))))
    h2c = []
    for m in [b"", b"abc", msg, bytes(32), b"a" * 200]:
        pt = hash_to_G2(m, SIG_DST, sha256)
        h2c.append(dict(msg=hx(m), compressed=hx(G2_to_signature(pt)), eip2537=hx(g2_eip2537(pt))))
    return dict(produced_by="generate.py with py_ecc 8.0.0", dst=SIG_DST.decode(), g1=g1, g2=sigs, hash_to_g2=h2c)


def write(name, value):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    write("signing_root.json", signing_roots())
    write("eip2537.json", eip2537())
