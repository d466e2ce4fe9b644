// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Fixtures} from "./utils/Fixtures.sol";
import {NodeManager} from "../src/NodeManager.sol";
import {OperatorRegistry} from "../src/OperatorRegistry.sol";

/// Gas of submitReport for committees of 4, 16 and 64 members (test/vectors/committees.json),
/// with everyone signing and with non-signers. Each figure (the call's gas, as forge measures
/// it) is written to snapshots/GasTest.json (forge's gas snapshots) and printed with the estimated cost of the
/// whole transaction (execution + 21000 + calldata). `steady` runs measure a report after the
/// first (the report counter's slot already non-zero), which is what every week costs.
contract GasTest is Fixtures {
    string json;

    function setUp() public {
        json = vm.readFile(COMMITTEES);
    }

    function test_gas_submitReport_4() public {
        _measureAll(4);
    }

    function test_gas_submitReport_16() public {
        _measureAll(16);
    }

    function test_gas_submitReport_64() public {
        _measureAll(64);
    }

    /// Deployment, then the 64 members registered in batches of 16 (the last one seals); each
    /// call's gas as forge measures it. The 128-member deployment runs on anvil as real
    /// transactions (crates/execution/tests/anvil.rs); docs/contracts.md has both.
    function test_gas_deploy_64() public {
        Committee memory c = loadCommittee(json, ".committees.64");
        uint256 before = gasleft();
        NodeManager m = new NodeManager(OperatorRegistry(address(1)), 64, c.threshold);
        uint256 used = before - gasleft();
        vm.snapshotValue("deploy_NodeManager_64_members", used);
        log("deploy NodeManager (no members):", used);
        uint256 batch = 16;
        for (uint256 first = 0; first < 64; first += batch) {
            bytes[] memory pks = new bytes[](batch);
            bytes[] memory cs = new bytes[](batch);
            bytes[] memory pops = new bytes[](batch);
            for (uint256 i = 0; i < batch; i++) {
                (pks[i], cs[i], pops[i]) = (c.pubkeys[first + i], c.compressed[first + i], c.pops[first + i]);
            }
            m.registerMembers(pks, cs, pops);
            uint256 g = vm.lastCallGas().gasTotalUsed;
            string memory name = string.concat("registerMembers_16_from_", vm.toString(first));
            vm.snapshotValue(name, g);
            log(string.concat(name, ":"), g);
        }
        assertTrue(m.isSealed(), "sealed by the last batch");
    }

    /// An exits report (the first: its counter slot goes from zero) accepted, then each of its
    /// two exits published (a requested exit, a voluntary slot): the end-to-end vectors
    /// (reports.json, 4 members, 3 signing), direct validators with beacon indices 1000, 1001.
    function test_gas_exits() public {
        string memory r = vm.readFile(REPORTS);
        deploy(loadCommittee(r, ""), vm.parseJsonAddress(r, ".nodeManager"));
        vm.warp(BEACON_GENESIS + 4000 * SECONDS_PER_EPOCH);
        uint256[] memory ids = new uint256[](2);
        uint64[] memory indices = new uint64[](2);
        for (uint256 i = 0; i < 2; i++) {
            address op = vm.parseJsonAddress(r, string.concat(".operators[", vm.toString(i), "]"));
            vm.prank(op);
            registry.registerOperator("operator", "");
            bondEth(op, 4 ether);
            vm.prank(op);
            uint256[] memory cluster = new uint256[](1);
            cluster[0] = registry.addNode(OperatorRegistry.NodeType.Direct, "");
            vm.prank(OWNER);
            ids[i] = registry.addValidator(
                vm.parseJsonBytes(r, string.concat(".validatorPubkeys[", vm.toString(i), "]")), cluster
            );
            indices[i] = uint64(1000 + i);
            if (i == 1) {
                vm.prank(op);
                registry.requestVoluntaryExit(vm.parseJsonBytes(r, ".validatorPubkeys[1]"), false);
            }
        }
        vm.prank(OWNER);
        registry.setBeaconIndices(ids, indices);

        Report memory exits = loadReport(r, ".reports.exits1");
        bytes memory data = abi.encodeCall(
            NodeManager.submitReport,
            (exits.kind, exits.number, exits.root, exits.reportHash, exits.signerBitmap, exits.signature)
        );
        submit(exits);
        _record("submitReport_exits_4_members_1_nonsigner_first", vm.lastCallGas().gasTotalUsed, data);

        string[2] memory names = ["publishExit_requested", "publishExit_voluntary"];
        for (uint256 i = 0; i < 2; i++) {
            string memory v = string.concat(".reports.exits1.values[", vm.toString(i), "]");
            data = abi.encodeCall(
                NodeManager.publishExit,
                (
                    1,
                    uint64(vm.parseJsonUint(r, string.concat(v, "[0]"))),
                    vm.parseJsonAddress(r, string.concat(v, "[1]")),
                    uint8(vm.parseJsonUint(r, string.concat(v, "[2]"))),
                    uint64(vm.parseJsonUint(r, string.concat(v, "[3]"))),
                    vm.parseJsonBytes32Array(r, string.concat(".reports.exits1.proofs[", vm.toString(i), "]"))
                )
            );
            (bool ok,) = address(nm).call(data);
            assertTrue(ok, "published");
            _record(names[i], vm.lastCallGas().gasTotalUsed, data);
        }
        assertEq(registry.getValidator(1).exitEpoch, 5000, "requested exit recorded");
        assertEq(registry.getValidator(2).exitEpoch, 4500, "voluntary slot recorded");
    }

    /// Writes the call's gas to the snapshot and logs it with the whole transaction's estimate.
    function _record(string memory name, uint256 used, bytes memory data) internal {
        vm.snapshotValue(name, used);
        uint256 calldataGas;
        for (uint256 b = 0; b < data.length; b++) {
            calldataGas += data[b] == 0 ? 4 : 16;
        }
        log(string.concat(name, " execution:"), used);
        log(string.concat(name, " transaction (+21000 +calldata):"), used + 21000 + calldataGas);
    }

    function _measureAll(uint256 n) internal {
        string memory at = string.concat(".committees.", vm.toString(n));
        Committee memory c = loadCommittee(json, at);
        uint256 reports = count(json, string.concat(at, ".reports"));
        for (uint256 i = 0; i < reports; i++) {
            for (uint256 steady = 0; steady < 2; steady++) {
                _measure(c, at, i, steady == 1);
            }
        }
    }

    function _measure(Committee memory c, string memory at, uint256 i, bool steady) internal {
        // A fresh deployment at the vectors' address for every measurement.
        uint256 state = vm.snapshotState();
        deploy(c, vm.parseJsonAddress(json, ".nodeManager"));
        if (steady) {
            // Make the counter's slot non-zero without changing lastReportNumber(0) (it reads the
            // low 64 bits): the SSTORE then costs what it costs from the second report on.
            bytes32 slot = keccak256(abi.encode(uint256(0), uint256(2))); // _lastNumber[0]
            vm.store(address(nm), slot, bytes32(uint256(1) << 128));
        }
        string memory r = string.concat(at, ".reports[", vm.toString(i), "]");
        uint256 nonSigners = vm.parseJsonUint(json, string.concat(r, ".nonSigners"));
        uint256 bitmap = vm.parseJsonUint(json, string.concat(r, ".signerBitmap"));
        bytes memory sig = vm.parseJsonBytes(json, string.concat(r, ".signature"));
        bytes32 root = vm.parseJsonBytes32(json, string.concat(at, ".root"));
        bytes32 reportHash = vm.parseJsonBytes32(json, string.concat(at, ".reportHash"));

        string memory name = string.concat(
            "submitReport_",
            vm.toString(c.pubkeys.length),
            "_members_",
            vm.toString(nonSigners),
            "_nonsigners",
            steady ? "_steady" : "_first"
        );
        nm.submitReport(0, 1, root, reportHash, bitmap, sig);
        uint256 used = vm.lastCallGas().gasTotalUsed;
        vm.snapshotValue(name, used);
        assertEq(nm.lastReportNumber(0), 1, "accepted");

        bytes memory data = abi.encodeCall(NodeManager.submitReport, (0, 1, root, reportHash, bitmap, sig));
        uint256 calldataGas;
        for (uint256 b = 0; b < data.length; b++) {
            calldataGas += data[b] == 0 ? 4 : 16;
        }
        log(string.concat(name, " execution:"), used);
        log(string.concat(name, " transaction (+21000 +calldata):"), used + 21000 + calldataGas);
        vm.revertToState(state);
    }
}
