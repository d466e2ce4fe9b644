#!/usr/bin/env python3
"""Measures submitReport as real transactions on anvil (--hardfork prague): the receipts'
gasUsed, intrinsic gas and calldata included, for the committees of test/vectors/committees.json.
Needs anvil and cast on PATH (scripts/contracts.sh anvil-gas puts tools/js's there) and a built
contracts/out. Uses only the standard library.

  python3 contracts/script/anvil_gas.py [port]
"""

import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CONTRACTS = os.path.dirname(HERE)
PORT = sys.argv[1] if len(sys.argv) > 1 else "8645"
RPC = f"http://127.0.0.1:{PORT}"
# Members per registerMembers transaction, as crates/execution deploys (MEMBERS_PER_BATCH).
BATCH = 32


def cast(command: str, *args: str) -> str:
    rpc_url = [] if command == "abi-encode" else ["--rpc-url", RPC]
    out = subprocess.run(["cast", command, *rpc_url, *args], capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout.strip():
        raise RuntimeError(f"cast {command} failed: {out.stderr.strip()[:2000]}")
    return out.stdout.strip()


def rpc(method: str, *params) -> str:
    return cast("rpc", method, *[json.dumps(p) if not isinstance(p, str) else p for p in params])


def main() -> None:
    vectors = json.load(open(os.path.join(CONTRACTS, "test", "vectors", "committees.json")))
    artifact = json.load(open(os.path.join(CONTRACTS, "out", "NodeManager.sol", "NodeManager.json")))
    deployer, expected = vectors["deployer"], vectors["nodeManager"].lower()
    anvil = subprocess.Popen(
        ["anvil", "--hardfork", "prague", "--host", "127.0.0.1", "--port", PORT, "--chain-id", str(vectors["chainId"]),
         "--gas-limit", "16777216"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                cast("chain-id")
                break
            except RuntimeError:
                time.sleep(0.1)
        rpc("anvil_impersonateAccount", deployer)
        rpc("anvil_setBalance", deployer, "0x56bc75e2d63100000")
        print("| members | non-signers | transaction gasUsed |")
        print("|---:|---:|---:|")
        for n, c in vectors["committees"].items():
            members = c["members"]
            args = cast("abi-encode", "f(address,uint256,uint256)", "0x0000000000000000000000000000000000000001",
                        str(len(members)), str(c["threshold"]))
            for r in c["reports"]:
                snap = rpc("evm_snapshot").strip('"')
                deploy = json.loads(cast("send", "--unlocked", "--from", deployer, "--gas-limit", "16777216", "--json",
                                         "--create", artifact["bytecode"]["object"] + args[2:]))
                assert deploy["contractAddress"].lower() == expected, deploy["contractAddress"]
                batches = []
                for first in range(0, len(members), BATCH):
                    part = members[first:first + BATCH]
                    reg = json.loads(cast("send", "--unlocked", "--from", deployer, "--gas-limit", "16777216", "--json",
                                          expected, "registerMembers(bytes[],bytes[],bytes[])",
                                          "[" + ",".join(m["pubkey"] for m in part) + "]",
                                          "[" + ",".join(m["compressed"] for m in part) + "]",
                                          "[" + ",".join(m["pop"] for m in part) + "]"))
                    assert reg["status"] == "0x1", reg
                    batches.append(int(reg["gasUsed"], 16))
                tx = json.loads(cast("send", "--unlocked", "--from", deployer, "--json", expected,
                                     "submitReport(uint8,uint64,bytes32,bytes32,uint256,bytes)", "0", "1", c["root"],
                                     c["reportHash"], r["signerBitmap"], r["signature"]))
                assert tx["status"] == "0x1", tx
                print(f"| {n} | {r['nonSigners']} | {int(tx['gasUsed'], 16)} |")
                rpc("evm_revert", snap)
            print(f"(deploy with {n} members: creation {int(deploy['gasUsed'], 16)} gas, registerMembers batches of "
                  f"{BATCH}: {batches} gas)", file=sys.stderr)
    finally:
        anvil.terminate()
        anvil.wait()


if __name__ == "__main__":
    main()
