#!/usr/bin/env python3
"""BLS and report vectors for the contract tests, from py_ecc (an implementation independent
of blst and of the contract). Deterministic: every run writes the same bytes.

Writes, under contracts/test/vectors/:
  py_ecc.json      signature cases, hash-to-G2 points and proofs of possession (the schema
                   shared with blst.json, which the Rust side writes);
  committees.json  committees of 4, 16 and 64 members (keys, compressed keys, proofs of
                   possession) and aggregate signatures of reports for the NodeManager deployed
                   by DEPLOYER at nonce 0 on chain 31337, for several signer bitmaps;
  reports.json     the end-to-end scenario: OpenZeppelin StandardMerkleTrees of two rewards
                   reports and two exits reports (built by tools/js/oz-tree.mjs, the real
                   @openzeppelin/merkle-tree), signed by the 4-member committee, plus signatures
                   bound to another chain, contract, kind or number;
  signing_roots.json  signing roots of docs/signing.md computed here with keccak (pycryptodome).

Usage (from the repository root):
  python3 -m venv contracts/.venv && contracts/.venv/bin/pip install py_ecc pycryptodome
  contracts/.venv/bin/python contracts/script/vectors_py_ecc.py
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from importlib.metadata import version

from Crypto.Hash import keccak
from py_ecc.bls import G2ProofOfPossession as Bls
from py_ecc.bls.g2_primitives import G1_to_pubkey, pubkey_to_G1, signature_to_G2
from py_ecc.bls.hash_to_curve import hash_to_G2
from py_ecc.optimized_bls12_381 import FQ, FQ2, normalize

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(REPO, "contracts", "test", "vectors")
OZ_TREE = os.path.join(REPO, "tools", "js", "oz-tree.mjs")

SIG_DST = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"
POP_DST = b"BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"
GENERATOR = f"contracts/script/vectors_py_ecc.py (py_ecc {version('py_ecc')})"

# The test deployment: NodeManager created by DEPLOYER at nonce 0 on forge's chain id.
CHAIN_ID = 31337
DEPLOYER = "0x000000000000000000000000000000000000c1a5"
OTHER_CONTRACT = "0x00000000000000000000000000000000000c0ffe"
REPORT_DOMAIN = None  # set below: keccak256("claystack-oracle/report-signature/v1")


# ---------------------------------------------------------------------------------------------
# Encodings
# ---------------------------------------------------------------------------------------------


def keccak256(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()


REPORT_DOMAIN = keccak256(b"claystack-oracle/report-signature/v1")


def hx(b: bytes) -> str:
    return "0x" + b.hex()


def fp(v) -> bytes:
    """One base-field element, EIP-2537: 16 zero bytes then 48 bytes big-endian."""
    return int(v).to_bytes(64, "big")


def g1_eip2537(pt) -> bytes:
    if pt[2] == FQ.zero():
        return bytes(128)
    x, y = normalize(pt)
    return fp(x) + fp(y)


def g2_eip2537(pt) -> bytes:
    if pt[2] == FQ2.zero():
        return bytes(256)
    x, y = normalize(pt)
    return fp(x.coeffs[0]) + fp(x.coeffs[1]) + fp(y.coeffs[0]) + fp(y.coeffs[1])


def pubkey_eip2537(pk: bytes) -> bytes:
    return g1_eip2537(pubkey_to_G1(pk))


def sig_eip2537(sig: bytes) -> bytes:
    return g2_eip2537(signature_to_G2(sig))


def create_address(deployer: str, nonce: int) -> str:
    """CREATE address for nonce < 128: keccak256(rlp([deployer, nonce]))[12:]."""
    assert 0 <= nonce < 0x80
    nonce_rlp = b"\x80" if nonce == 0 else bytes([nonce])
    payload = b"\x94" + bytes.fromhex(deployer[2:]) + nonce_rlp
    return hx(keccak256(bytes([0xC0 + len(payload)]) + payload)[12:])


def signing_root(chain_id: int, node_manager: str, kind: int, number: int, root: bytes, report_hash: bytes) -> bytes:
    """docs/signing.md: keccak256(abi.encode(REPORT_DOMAIN, chain_id, node_manager, kind, number, root, hash))."""
    pre = (
        REPORT_DOMAIN
        + chain_id.to_bytes(32, "big")
        + bytes(12)
        + bytes.fromhex(node_manager[2:])
        + kind.to_bytes(32, "big")
        + number.to_bytes(32, "big")
        + root
        + report_hash
    )
    assert len(pre) == 224
    return keccak256(pre)


# ---------------------------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------------------------


class Member:
    def __init__(self, label: str):
        self.sk = Bls.KeyGen(hashlib.sha256(b"claystack-oracle/test-key/" + label.encode()).digest())
        self.pk = Bls.SkToPk(self.sk)
        self._pop = None

    @property
    def pop(self) -> bytes:
        if self._pop is None:
            self._pop = Bls.PopProve(self.sk)
        return self._pop

    def sign(self, message: bytes) -> bytes:
        return Bls.Sign(self.sk, message)

    def json(self) -> dict:
        return {"pubkey": hx(pubkey_eip2537(self.pk)), "compressed": hx(self.pk), "pop": hx(sig_eip2537(self.pop))}


def members(prefix: str, n: int) -> list:
    return [Member(f"{prefix}-{i}") for i in range(n)]


def aggregate(sigs: list) -> bytes:
    return Bls.Aggregate(sigs)


def bitmap_of(indices) -> int:
    return sum(1 << i for i in indices)


# ---------------------------------------------------------------------------------------------
# py_ecc.json: the shared schema
# ---------------------------------------------------------------------------------------------


def py_ecc_vectors() -> dict:
    keys = members("bls", 16)
    m32 = hashlib.sha256(b"claystack-oracle/test-message").digest()
    other = hashlib.sha256(b"claystack-oracle/other-message").digest()
    cases = []

    def case(name, message, signers, signature, valid):
        if len(signature) == 96:  # self-check: py_ecc agrees with the label
            assert Bls.FastAggregateVerify([k.pk for k in signers], message, signature) == valid, name
        cases.append(
            {
                "name": name,
                "message": hx(message),
                "pubkeys": [hx(pubkey_eip2537(k.pk)) for k in signers],
                "signature": hx(sig_eip2537(signature) if len(signature) == 96 else signature),
                "valid": valid,
            }
        )

    case("single", m32, keys[:1], keys[0].sign(m32), True)
    case("single-empty-message", b"", keys[1:2], keys[1].sign(b""), True)
    case("single-100-byte-message", bytes(range(100)), keys[2:3], keys[2].sign(bytes(range(100))), True)
    case("aggregate-3", m32, keys[:3], aggregate([k.sign(m32) for k in keys[:3]]), True)
    case("aggregate-16", m32, keys, aggregate([k.sign(m32) for k in keys]), True)
    case("single-wrong-message", other, keys[:1], keys[0].sign(m32), False)
    case("single-wrong-key", m32, keys[1:2], keys[0].sign(m32), False)
    case("aggregate-3-missing-signer", m32, keys[:3], aggregate([k.sign(m32) for k in keys[:2]]), False)
    case("aggregate-3-extra-signer", m32, keys[:3], aggregate([k.sign(m32) for k in keys[:4]]), False)
    case("aggregate-3-wrong-message", other, keys[:3], aggregate([k.sign(m32) for k in keys[:3]]), False)
    # H(m) itself in place of a signature: a valid G2 point, not a signature.
    case("hash-point-as-signature", m32, keys[:1], g2_eip2537(hash_to_G2(m32, SIG_DST, Bls.xmd_hash_function)), False)
    case("infinity-signature", m32, keys[:1], bytes(256), False)

    msgs = [b"", b"abc", b"abcdef0123456789", b"q128_" + b"q" * 128, b"a512_" + b"a" * 512, m32]
    h2c = [{"msg": hx(m), "point": hx(g2_eip2537(hash_to_G2(m, SIG_DST, Bls.xmd_hash_function)))} for m in msgs]

    pops = [dict(k.json(), valid=True) for k in keys[:3]]
    pops.append({"pubkey": hx(pubkey_eip2537(keys[1].pk)), "compressed": hx(keys[1].pk), "pop": hx(sig_eip2537(keys[0].pop)), "valid": False})
    # A signature of the compressed key under the signature DST is not a proof of possession.
    sig_not_pop = keys[2].sign(keys[2].pk)
    pops.append({"pubkey": hx(pubkey_eip2537(keys[2].pk)), "compressed": hx(keys[2].pk), "pop": hx(sig_eip2537(sig_not_pop)), "valid": False})

    return {
        "generator": GENERATOR,
        "dst": SIG_DST.decode(),
        "cases": cases,
        "hash_to_g2": h2c,
        "pop_dst": POP_DST.decode(),
        "pops": pops,
    }


# ---------------------------------------------------------------------------------------------
# committees.json: gas and non-signer tests
# ---------------------------------------------------------------------------------------------


def committee_vectors(node_manager: str) -> dict:
    out = {"generator": GENERATOR, "chainId": CHAIN_ID, "deployer": DEPLOYER, "nodeManager": node_manager, "committees": {}}
    root = keccak256(b"claystack-oracle/test-root")
    report_hash = keccak256(b"claystack-oracle/test-report")
    sr = signing_root(CHAIN_ID, node_manager, 0, 1, root, report_hash)
    for n in (4, 16, 64):
        ms = members(f"committee{n}", n)
        threshold = n // 2 + 1
        sigs = [m.sign(sr) for m in ms]
        slack = n - threshold  # the most members that may be absent
        absent_sets = {0: [], 1: [n - 1]}
        if slack >= 4:
            absent_sets[4] = list(range(0, n, n // 4))[:4]
        absent_sets[slack] = list(range(1, 2 * slack, 2))[:slack]
        reports = []
        for k in sorted(absent_sets):
            absent = set(absent_sets[k])
            assert len(absent) == k
            signers = [i for i in range(n) if i not in absent]
            reports.append(
                {
                    "nonSigners": k,
                    "signerBitmap": hex(bitmap_of(signers)),
                    "signature": hx(sig_eip2537(aggregate([sigs[i] for i in signers]))),
                }
            )
        # Every member's own signature, so tests can aggregate any signer set.
        out["committees"][str(n)] = {
            "threshold": threshold,
            "members": [m.json() for m in ms],
            "kind": 0,
            "number": 1,
            "root": hx(root),
            "reportHash": hx(report_hash),
            "signingRoot": hx(sr),
            "signatures": [hx(sig_eip2537(s)) for s in sigs],
            "reports": reports,
        }
        print(f"committee of {n}: done", file=sys.stderr)
    return out


# ---------------------------------------------------------------------------------------------
# reports.json: the end-to-end scenario
# ---------------------------------------------------------------------------------------------


def oz_tree(encoding: list, values: list) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"leafEncoding": encoding, "values": values}, f)
        path = f.name
    try:
        res = subprocess.run(["node", OZ_TREE, "of", path], check=True, capture_output=True, text=True)
    finally:
        os.unlink(path)
    tree = json.loads(res.stdout)
    return {"root": tree["root"], "proofs": tree["proofs"]}


ETH = 10**18
OPERATORS = ["0x" + f"{0xA11CE0 + i:040x}" for i in range(4)]
VALIDATOR_PUBKEYS = [hashlib.sha256(b"claystack-oracle/test-validator/%d" % i).digest() + bytes(16) for i in range(3)]
REWARDS_ENCODING = ["address", "uint256", "uint256", "uint256"]
# crates/exits EXITS_LEAF_ENCODING: (validator index, operator, kind 0 requested / 1 voluntary, exit-by epoch)
EXITS_ENCODING = ["uint64", "address", "uint8", "uint64"]


def rewards_values(report: int) -> list:
    # (operator, cumulative rewards, cumulative bond penalty, bond requirement); report 2 adds to report 1.
    if report == 1:
        rows = [(3 * ETH // 10, 0, ETH), (5 * ETH // 100, ETH // 2, 2 * ETH), (0, 0, ETH), (123456789, 0, 4 * ETH)]
    else:
        rows = [(7 * ETH // 10, 0, ETH), (5 * ETH // 100, 7 * ETH // 10, 2 * ETH), (ETH // 10, 0, 0), (123456789, 0, 4 * ETH)]
    return [[OPERATORS[i], str(a), str(b), str(c)] for i, (a, b, c) in enumerate(rows)]


def exits_values(report: int) -> list:
    # (validator index, operator, kind, exit-by epoch). Report 2 lists report 1's requested exit
    # again (still one exit) and gives validator 1001's voluntary request another slot.
    if report == 1:
        return [["1000", OPERATORS[0], "0", "5000"], ["1001", OPERATORS[1], "1", "4500"]]
    return [["1000", OPERATORS[0], "0", "5000"], ["1001", OPERATORS[1], "1", "4600"]]


def report_vectors(node_manager: str, committee: list) -> dict:
    trees = {
        "rewards1": (0, 1, REWARDS_ENCODING, rewards_values(1)),
        "rewards2": (0, 2, REWARDS_ENCODING, rewards_values(2)),
        "exits1": (1, 1, EXITS_ENCODING, exits_values(1)),
        "exits2": (1, 2, EXITS_ENCODING, exits_values(2)),
    }
    out = {
        "generator": GENERATOR,
        "chainId": CHAIN_ID,
        "deployer": DEPLOYER,
        "nodeManager": node_manager,
        "threshold": 3,
        "members": [m.json() for m in committee],
        "operators": OPERATORS,
        "validatorPubkeys": [hx(p) for p in VALIDATOR_PUBKEYS],
        "reports": {},
        "forged": {},
    }

    def sign(signers, chain_id, nm, kind, number, root, rh):
        sr = signing_root(chain_id, nm, kind, number, root, rh)
        return hx(sig_eip2537(aggregate([committee[i].sign(sr) for i in signers]))), hx(sr)

    bitmaps = {"rewards1": [0, 1, 2], "rewards2": [0, 1, 2, 3], "exits1": [0, 1, 3], "exits2": [1, 2, 3]}
    for name, (kind, number, enc, values) in trees.items():
        tree = oz_tree(enc, values)
        root = bytes.fromhex(tree["root"][2:])
        rh = keccak256(b"claystack-oracle/test-report/" + name.encode())
        sig, sr = sign(bitmaps[name], CHAIN_ID, node_manager, kind, number, root, rh)
        out["reports"][name] = {
            "kind": kind,
            "number": number,
            "root": tree["root"],
            "reportHash": hx(rh),
            "signingRoot": sr,
            "signerBitmap": hex(bitmap_of(bitmaps[name])),
            "signature": sig,
            "leafEncoding": enc,
            "values": values,
            "proofs": tree["proofs"],
        }

    # rewards1's fields, signed for something else: each must be rejected as InvalidSignature.
    r1 = out["reports"]["rewards1"]
    root1, rh1 = bytes.fromhex(r1["root"][2:]), bytes.fromhex(r1["reportHash"][2:])
    signers = bitmaps["rewards1"]
    forged = {
        "otherChain": sign(signers, 1, node_manager, 0, 1, root1, rh1)[0],
        "otherContract": sign(signers, CHAIN_ID, OTHER_CONTRACT, 0, 1, root1, rh1)[0],
        "otherKind": sign(signers, CHAIN_ID, node_manager, 1, 1, root1, rh1)[0],
        "otherNumber": sign(signers, CHAIN_ID, node_manager, 0, 2, root1, rh1)[0],
        "otherReportHash": sign(signers, CHAIN_ID, node_manager, 0, 1, root1, keccak256(b"another report"))[0],
        # Only members 0 and 1 signed, but the bitmap will claim 0, 1 and 2.
        "missingSigner": sign([0, 1], CHAIN_ID, node_manager, 0, 1, root1, rh1)[0],
        # Below quorum: a true aggregate of 2 signers (threshold 3).
        "twoSigners": sign([0, 1], CHAIN_ID, node_manager, 0, 1, root1, rh1)[0],
    }
    # A non-member's signature in place of member 2's.
    outsider = Member("outsider")
    sr1 = signing_root(CHAIN_ID, node_manager, 0, 1, root1, rh1)
    forged["outsiderInsteadOfMember2"] = hx(sig_eip2537(aggregate([committee[0].sign(sr1), committee[1].sign(sr1), outsider.sign(sr1)])))
    out["forged"] = forged
    return out


def signing_root_vectors(node_manager: str) -> dict:
    cases = []
    for chain_id, kind, number in [(CHAIN_ID, 0, 1), (CHAIN_ID, 1, 7), (1, 0, 2**64 - 1), (17000, 1, 42)]:
        root = keccak256(b"root/%d/%d" % (chain_id, number))
        rh = keccak256(b"hash/%d/%d" % (kind, number))
        cases.append(
            {
                "chainId": chain_id,
                "nodeManager": node_manager,
                "kind": kind,
                "number": number,
                "root": hx(root),
                "reportHash": hx(rh),
                "signingRoot": hx(signing_root(chain_id, node_manager, kind, number, root, rh)),
            }
        )
    return {"generator": GENERATOR, "reportDomain": hx(REPORT_DOMAIN), "cases": cases}


def write(name: str, data: dict) -> None:
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(path, REPO)}", file=sys.stderr)


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    node_manager = create_address(DEPLOYER, 0)
    write("py_ecc.json", py_ecc_vectors())
    write("signing_roots.json", signing_root_vectors(node_manager))
    write("reports.json", report_vectors(node_manager, members("committee4", 4)))
    write("committees.json", committee_vectors(node_manager))


if __name__ == "__main__":
    main()
