// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "./utils/Test.sol";
import {RewardsVault} from "../src/RewardsVault.sol";
import {RewardsGovernance} from "../src/RewardsGovernance.sol";
import {MockAggregatorV3} from "../src/MockAggregatorV3.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract Payer {
    function pay(address to) external payable {
        payable(to).transfer(msg.value); // 2300 gas stipend: the vault's receive must fit it
    }
}

/// Issue 11: the inputs of a rewards report that live on chain (execution fees, SSV prices,
/// adjustments).
contract RewardsInputsTest is Test {
    address constant PROTOCOL = address(0x9707);
    address constant STRANGER = address(0x5757);
    uint256 constant CAP = 3 ether;
    RewardsVault vault;
    RewardsGovernance governance;

    function setUp() public {
        vault = new RewardsVault(PROTOCOL);
        governance = new RewardsGovernance(PROTOCOL, CAP);
    }

    function test_vault_total_received_ignores_withdrawals() public {
        vm.deal(address(this), 10 ether);
        Payer payer = new Payer();
        payer.pay{value: 2 ether}(address(vault));
        vm.deal(address(vault), address(vault).balance + 1 ether); // a fee credit: no call
        assertEq(vault.totalReceived(), 3 ether, "transfer + credit");
        vm.prank(PROTOCOL);
        vault.withdraw(payable(STRANGER), 2.5 ether);
        assertEq(address(vault).balance, 0.5 ether, "balance after withdraw");
        assertEq(vault.totalReceived(), 3 ether, "a withdrawal is not negative fees");
        assertEq(STRANGER.balance, 2.5 ether, "paid out");
    }

    function test_vault_withdraw_is_owner_only_and_renounce_reverts() public {
        vm.deal(address(vault), 1 ether);
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, STRANGER));
        vault.withdraw(payable(STRANGER), 1 ether);
        vm.prank(PROTOCOL);
        vm.expectRevert(RewardsVault.RenounceDisabled.selector);
        vault.renounceOwnership();
    }

    function test_agreed_price_history() public {
        (bool found,,) = governance.agreedSsvPrice(1);
        assertFalse(found, "nothing published");
        vm.startPrank(PROTOCOL);
        governance.publishAgreedSsvPrice(1, 5e15);
        governance.publishAgreedSsvPrice(4, 6e15);
        vm.expectRevert(abi.encodeWithSelector(RewardsGovernance.PriceNotAfterLast.selector, 4, 4));
        governance.publishAgreedSsvPrice(4, 7e15);
        vm.expectRevert(RewardsGovernance.ZeroPrice.selector);
        governance.publishAgreedSsvPrice(9, 0);
        vm.stopPrank();
        uint256 price;
        uint64 from;
        (found, price, from) = governance.agreedSsvPrice(3);
        assertTrue(found && price == 5e15 && from == 1, "report 3 uses the price from report 1");
        (found, price, from) = governance.agreedSsvPrice(4);
        assertTrue(found && price == 6e15 && from == 4, "report 4 uses the new price");
        assertEq(governance.priceHistory().length, 2, "history kept");
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, STRANGER));
        governance.publishAgreedSsvPrice(9, 1);
    }

    function test_adjustments_are_capped_per_report() public {
        vm.startPrank(PROTOCOL);
        governance.enterAdjustment(2, 7, 2 ether, "missed rewards during the relay outage");
        governance.enterAdjustment(2, 8, -1 ether, "double payment in report 1");
        vm.expectRevert(abi.encodeWithSelector(RewardsGovernance.AboveCap.selector, 2, CAP + 1, CAP));
        governance.enterAdjustment(2, 9, 1, "one wei too many");
        governance.enterAdjustment(3, 9, 3 ether, "another report has its own cap");
        vm.expectRevert(abi.encodeWithSelector(RewardsGovernance.ReasonLength.selector, 0, 256));
        governance.enterAdjustment(4, 9, 1, "");
        vm.expectRevert(RewardsGovernance.ZeroNode.selector);
        governance.enterAdjustment(4, 0, 1, "no node");
        vm.expectRevert(RewardsGovernance.ZeroAmount.selector);
        governance.enterAdjustment(4, 1, 0, "nothing");
        vm.expectRevert(abi.encodeWithSelector(RewardsGovernance.AmountOutOfRange.selector, type(int256).min));
        governance.enterAdjustment(4, 1, type(int256).min, "overflow");
        vm.stopPrank();
        RewardsGovernance.Adjustment[] memory two = governance.adjustmentsOf(2);
        assertEq(two.length, 2, "two adjustments in report 2");
        assertTrue(two[1].nodeId == 8 && two[1].amountWei == -1 ether, "second entry kept in order");
        assertEq(governance.adjustedWei(2), CAP, "sum of absolute amounts");
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, STRANGER));
        governance.enterAdjustment(5, 1, 1, "not the protocol");
    }

    function test_mock_feed_rounds() public {
        vm.warp(1_700_000_000);
        MockAggregatorV3 feed = new MockAggregatorV3(18, "SSV / ETH", 4.5e15);
        (uint80 round, int256 answer,, uint256 updatedAt, uint80 answeredIn) = feed.latestRoundData();
        assertTrue(round == 1 && answer == 4.5e15 && updatedAt == 1_700_000_000 && answeredIn == 1, "first round");
        vm.warp(1_700_000_600);
        feed.postAnswer(5.5e15);
        (round, answer,, updatedAt,) = feed.latestRoundData();
        assertTrue(round == 2 && answer == 5.5e15 && updatedAt == 1_700_000_600, "second round");
        (, answer,,,) = feed.getRoundData(1);
        assertTrue(answer == 4.5e15, "history");
        vm.expectRevert(abi.encodeWithSelector(MockAggregatorV3.NoData.selector, 9));
        feed.getRoundData(9);
    }
}
