// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "./Test.sol";
import {NodeManager} from "../../src/NodeManager.sol";
import {OperatorRegistry} from "../../src/OperatorRegistry.sol";
import {MockCsETH} from "../../src/MockCsETH.sol";

/// Deployments and vector loading shared by the contract tests. The committees and their
/// signatures come from contracts/script/vectors_py_ecc.py, which signs for the NodeManager
/// that DEPLOYER creates at nonce 0 on chain 31337.
abstract contract Fixtures is Test {
    string internal constant REPORTS = "test/vectors/reports.json";
    string internal constant COMMITTEES = "test/vectors/committees.json";
    string internal constant SIGNING_ROOTS = "test/vectors/signing_roots.json";

    address internal constant DEPLOYER = address(0xC1A5);
    address internal constant OWNER = address(0x0A11);
    address internal constant TREASURY = address(0x7EA5);
    uint64 internal constant BEACON_GENESIS = 1_606_824_023;
    uint64 internal constant SECONDS_PER_EPOCH = 384;

    struct Committee {
        bytes[] pubkeys;
        bytes[] compressed;
        bytes[] pops;
        uint256 threshold;
    }

    struct Report {
        uint8 kind;
        uint64 number;
        bytes32 root;
        bytes32 reportHash;
        uint256 signerBitmap;
        bytes signature;
    }

    MockCsETH internal token;
    OperatorRegistry internal registry;
    NodeManager internal nm;

    function loadCommittee(string memory json, string memory at) internal view returns (Committee memory c) {
        uint256 n = count(json, string.concat(at, ".members"));
        c.pubkeys = new bytes[](n);
        c.compressed = new bytes[](n);
        c.pops = new bytes[](n);
        for (uint256 i = 0; i < n; i++) {
            string memory m = string.concat(at, ".members[", vm.toString(i), "]");
            c.pubkeys[i] = vm.parseJsonBytes(json, string.concat(m, ".pubkey"));
            c.compressed[i] = vm.parseJsonBytes(json, string.concat(m, ".compressed"));
            c.pops[i] = vm.parseJsonBytes(json, string.concat(m, ".pop"));
        }
        c.threshold = vm.parseJsonUint(json, string.concat(at, ".threshold"));
    }

    function loadReport(string memory json, string memory at) internal pure returns (Report memory r) {
        r.kind = uint8(vm.parseJsonUint(json, string.concat(at, ".kind")));
        r.number = uint64(vm.parseJsonUint(json, string.concat(at, ".number")));
        r.root = vm.parseJsonBytes32(json, string.concat(at, ".root"));
        r.reportHash = vm.parseJsonBytes32(json, string.concat(at, ".reportHash"));
        r.signerBitmap = vm.parseJsonUint(json, string.concat(at, ".signerBitmap"));
        r.signature = vm.parseJsonBytes(json, string.concat(at, ".signature"));
    }

    function count(string memory json, string memory array) internal view returns (uint256 n) {
        while (vm.keyExistsJson(json, string.concat(array, "[", vm.toString(n), "]"))) n++;
    }

    function registryConfig() internal pure returns (OperatorRegistry.Config memory) {
        return OperatorRegistry.Config({
            beaconGenesisTime: BEACON_GENESIS,
            secondsPerEpoch: SECONDS_PER_EPOCH,
            obolClusterSize: 4,
            // Genesis mainnet defaults (crates/rewards economics): SSV, Obol, Direct.
            firstNodeBond: [uint256(1 ether), 2 ether, 4 ether],
            perNodeBond: [uint256(1 ether), 2 ether, 4 ether]
        });
    }

    /// A NodeManager for `c` from the caller's current prank state, all members in one batch.
    function newNodeManager(OperatorRegistry r, Committee memory c) internal returns (NodeManager m) {
        m = new NodeManager(r, c.pubkeys.length, c.threshold);
        m.registerMembers(c.pubkeys, c.compressed, c.pops);
    }

    /// Bonds `amount` ETH for operator `op` (csETH minted at the current rate).
    function bondEth(address op, uint256 amount) internal {
        vm.deal(op, op.balance + amount);
        vm.prank(op);
        registry.depositBondWithEth{value: amount}();
    }

    /// Token, registry, and the NodeManager at the address the vectors were signed for.
    function deploy(Committee memory c, address expectedNodeManager) internal {
        token = new MockCsETH();
        registry = new OperatorRegistry(OWNER, token, TREASURY, registryConfig());
        vm.startPrank(DEPLOYER);
        nm = newNodeManager(registry, c);
        vm.stopPrank();
        assertEq(address(nm), expectedNodeManager, "NodeManager at the address the vectors signed for");
        vm.prank(OWNER);
        registry.setNodeManager(address(nm));
    }

    function submit(Report memory r) internal {
        nm.submitReport(r.kind, r.number, r.root, r.reportHash, r.signerBitmap, r.signature);
    }
}
