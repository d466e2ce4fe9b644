// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "./utils/Test.sol";
import {WithdrawalQueue} from "../src/WithdrawalQueue.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// The withdrawal queue stand-in: users enqueue, governance sets demand and buffer, the
/// oracle reads (unmet demand, buffer).
contract WithdrawalQueueTest is Test {
    WithdrawalQueue queue;
    address constant GOVERNANCE = address(0x60F);
    address constant USER = address(0x05E4);

    function setUp() public {
        queue = new WithdrawalQueue(GOVERNANCE);
    }

    function _liquidity() internal view returns (uint256 demand, uint256 buffer) {
        return queue.liquidity();
    }

    function test_usersEnqueueDemand() public {
        (uint256 demand, uint256 buffer) = _liquidity();
        assertEq(demand + buffer, 0, "empty at first");
        vm.expectEmit(address(queue));
        emit WithdrawalQueue.WithdrawalRequested(1, USER, 40 ether, 40 ether);
        vm.prank(USER);
        assertEq(queue.requestWithdrawal(40 ether), 1, "first id");
        vm.prank(address(0xBEEF));
        assertEq(queue.requestWithdrawal(25 ether), 2, "second id");
        (demand, buffer) = _liquidity();
        assertEq(demand, 65 ether, "demand adds up");
        assertEq(buffer, 0, "no buffer");
        assertEq(queue.requestCount(), 2, "two requests");

        vm.expectRevert(WithdrawalQueue.ZeroAmount.selector);
        queue.requestWithdrawal(0);
    }

    function test_governanceSetsDemandAndBuffer() public {
        vm.prank(USER);
        queue.requestWithdrawal(100 ether);
        vm.startPrank(GOVERNANCE);
        vm.expectEmit(address(queue));
        emit WithdrawalQueue.BufferSet(20 ether);
        queue.setBuffer(20 ether);
        vm.expectEmit(address(queue));
        emit WithdrawalQueue.UnmetDemandSet(200 ether);
        queue.setUnmetDemand(200 ether);
        vm.stopPrank();
        (uint256 demand, uint256 buffer) = _liquidity();
        assertEq(demand, 200 ether, "set demand");
        assertEq(buffer, 20 ether, "set buffer");
        vm.prank(USER);
        queue.requestWithdrawal(1 ether);
        (demand,) = _liquidity();
        assertEq(demand, 201 ether, "enqueue adds to the set demand");
    }

    function test_onlyGovernanceSets() public {
        bytes memory err = abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, USER);
        vm.startPrank(USER);
        vm.expectRevert(err);
        queue.setBuffer(1);
        vm.expectRevert(err);
        queue.setUnmetDemand(1);
        vm.stopPrank();
        vm.expectRevert(WithdrawalQueue.RenounceDisabled.selector);
        vm.prank(GOVERNANCE);
        queue.renounceOwnership();
        assertEq(queue.owner(), GOVERNANCE, "still owned");
    }
}
