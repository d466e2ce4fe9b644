// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Fixtures} from "./utils/Fixtures.sol";
import {TestSigner} from "./utils/BLSHarness.sol";
import {NodeManager} from "../src/NodeManager.sol";

/// Any quorum of a 16-member committee verifies (the contract subtracts the absent members'
/// keys from the stored aggregate); a bitmap that names a member whose signature is not in the
/// aggregate does not. Member signatures: py_ecc, test/vectors/committees.json.
contract NonSignersTest is Fixtures {
    string json;
    string constant AT = ".committees.16";
    bytes[] signatures;
    bytes32 root;
    bytes32 reportHash;

    function setUp() public {
        json = vm.readFile(COMMITTEES);
        deploy(loadCommittee(json, AT), vm.parseJsonAddress(json, ".nodeManager"));
        signatures = vm.parseJsonBytesArray(json, string.concat(AT, ".signatures"));
        root = vm.parseJsonBytes32(json, string.concat(AT, ".root"));
        reportHash = vm.parseJsonBytes32(json, string.concat(AT, ".reportHash"));
        assertEq(
            nm.signingRoot(0, 1, root, reportHash),
            vm.parseJsonBytes32(json, string.concat(AT, ".signingRoot")),
            "signed root"
        );
    }

    function _aggregate(uint256 bitmap) internal view returns (bytes memory agg) {
        for (uint256 i = 0; i < 16; i++) {
            if (bitmap & (1 << i) == 0) continue;
            agg = agg.length == 0 ? signatures[i] : TestSigner.g2Add(agg, signatures[i]);
        }
    }

    function _popcount(uint256 x) internal pure returns (uint256 c) {
        for (; x != 0; x &= x - 1) {
            c++;
        }
    }

    function testFuzz_anyQuorumVerifies(uint16 bitmap) public {
        vm.assume(_popcount(bitmap) >= 9);
        nm.submitReport(0, 1, root, reportHash, bitmap, _aggregate(bitmap));
        assertEq(nm.reportRoot(0, 1), root, "accepted");
    }

    function testFuzz_claimedSignerMustHaveSigned(uint16 bitmap, uint8 liar) public {
        liar %= 16;
        uint256 claimed = uint256(bitmap) | (1 << liar);
        vm.assume(_popcount(claimed) >= 9);
        // The bitmap names `liar`, the aggregate lacks its signature.
        bytes memory agg = _aggregate(claimed & ~(uint256(1) << liar));
        vm.expectRevert(NodeManager.InvalidSignature.selector);
        nm.submitReport(0, 1, root, reportHash, claimed, agg);
    }
}
