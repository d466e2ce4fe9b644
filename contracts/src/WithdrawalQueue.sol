// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

/// @title Withdrawal queue stand-in: the protocol's unmet withdrawal demand and its buffer.
/// @notice What the oracle reads of the protocol's withdrawals, at an exits report's reference
/// block: `liquidity()` = (ETH wei users asked to withdraw and were not paid yet, ETH wei held
/// to pay them). The exits round exits enough validators to cover the demand net of the buffer
/// (docs/exits.md). Users enqueue requests; governance (the owner) sets both numbers, as the
/// real queue's accounting would when it pays requests and receives swept withdrawals.
/// @dev A stand-in: it holds no ETH and burns no csETH. A real queue only has to answer
/// `liquidity()` with the same meaning.
contract WithdrawalQueue is Ownable2Step {
    /// ETH wei asked for and not paid yet.
    uint256 public unmetDemandWei;
    /// ETH wei held to pay the demand.
    uint256 public bufferWei;
    /// Requests enqueued so far (ids are 1-based).
    uint256 public requestCount;

    event WithdrawalRequested(uint256 indexed id, address indexed requester, uint256 amountWei, uint256 unmetDemandWei);
    event UnmetDemandSet(uint256 unmetDemandWei);
    event BufferSet(uint256 bufferWei);

    error ZeroAmount();
    error RenounceDisabled();

    constructor(address owner_) Ownable(owner_) {}

    /// Enqueues a request to withdraw `amountWei`: the unmet demand grows by it.
    function requestWithdrawal(uint256 amountWei) external returns (uint256 id) {
        if (amountWei == 0) revert ZeroAmount();
        uint256 demand = unmetDemandWei + amountWei;
        unmetDemandWei = demand;
        id = ++requestCount;
        emit WithdrawalRequested(id, msg.sender, amountWei, demand);
    }

    /// Sets the unmet demand (governance: requests paid or cancelled).
    function setUnmetDemand(uint256 amountWei) external onlyOwner {
        unmetDemandWei = amountWei;
        emit UnmetDemandSet(amountWei);
    }

    /// Sets the buffer (governance: withdrawals received, requests paid from it).
    function setBuffer(uint256 amountWei) external onlyOwner {
        bufferWei = amountWei;
        emit BufferSet(amountWei);
    }

    /// What the exits round reads: (unmet demand, buffer), both ETH wei.
    function liquidity() external view returns (uint256, uint256) {
        return (unmetDemandWei, bufferWei);
    }

    /// Disabled: without an owner the demand could never be settled again.
    function renounceOwnership() public view override onlyOwner {
        revert RenounceDisabled();
    }
}
