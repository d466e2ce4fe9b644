// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

/// @title ClayStack rewards governance: the inputs of a rewards report that people decide.
/// @notice Two things, both entered by the protocol (the owner) and read by every oracle member at
/// the frame's reference block, so an entry counts for a report only if it was mined by then:
/// - the **agreed SSV price** (wei per whole SSV), published in advance and kept with its
///   history: the price of report `n` is the last entry whose `fromReport` is at most `n`;
/// - **explicit adjustments** to one node's reward in one report, each with a reason, their
///   absolute amounts summing to at most `adjustmentCapWei` per report (the genesis
///   `economics.adjustment_cap_wei`; the oracle's rewards engine enforces the same cap).
/// Entries are never changed or removed: a mistake is corrected by a new entry (a later price,
/// an opposite adjustment in a later report).
contract RewardsGovernance is Ownable2Step {
    struct PricePoint {
        /// First report the price applies to.
        uint64 fromReport;
        /// Wei per whole SSV token.
        uint256 weiPerSsv;
    }

    struct Adjustment {
        /// Registry node id (1-based).
        uint64 nodeId;
        /// Added to the node's reward (negative: taken away), wei.
        int256 amountWei;
        string reason;
    }

    /// Longest reason accepted, in bytes: enough for a sentence and a link.
    uint256 public constant MAX_REASON_BYTES = 256;
    /// Sum of the absolute adjustment amounts allowed in one report, wei.
    uint256 public immutable adjustmentCapWei;

    PricePoint[] private prices;
    mapping(uint64 report => Adjustment[]) private adjustments;
    /// Sum of the absolute adjustment amounts entered for a report so far, wei.
    mapping(uint64 report => uint256) public adjustedWei;

    event AgreedSsvPricePublished(uint64 indexed fromReport, uint256 weiPerSsv);
    event AdjustmentEntered(uint64 indexed report, uint64 indexed nodeId, int256 amountWei, string reason);

    error ZeroPrice();
    error ReportZero();
    error PriceNotAfterLast(uint64 fromReport, uint64 lastFromReport);
    error ZeroNode();
    error ZeroAmount();
    error AmountOutOfRange(int256 amountWei);
    error ReasonLength(uint256 length, uint256 max);
    error AboveCap(uint64 report, uint256 adjustedWei, uint256 capWei);
    error RenounceDisabled();

    constructor(address owner_, uint256 adjustmentCapWei_) Ownable(owner_) {
        adjustmentCapWei = adjustmentCapWei_;
    }

    /// Publishes the agreed price from report `fromReport` on. Reports must increase: history is
    /// appended, never rewritten.
    function publishAgreedSsvPrice(uint64 fromReport, uint256 weiPerSsv) external onlyOwner {
        if (weiPerSsv == 0) revert ZeroPrice();
        if (fromReport == 0) revert ReportZero();
        uint256 n = prices.length;
        if (n > 0 && fromReport <= prices[n - 1].fromReport) {
            revert PriceNotAfterLast(fromReport, prices[n - 1].fromReport);
        }
        prices.push(PricePoint(fromReport, weiPerSsv));
        emit AgreedSsvPricePublished(fromReport, weiPerSsv);
    }

    /// The agreed price for report `report`: `found` is false when nothing applies yet.
    function agreedSsvPrice(uint64 report) external view returns (bool found, uint256 weiPerSsv, uint64 fromReport) {
        for (uint256 i = prices.length; i > 0; i--) {
            PricePoint storage p = prices[i - 1];
            if (p.fromReport <= report) return (true, p.weiPerSsv, p.fromReport);
        }
        return (false, 0, 0);
    }

    /// Every published price, oldest first.
    function priceHistory() external view returns (PricePoint[] memory) {
        return prices;
    }

    /// Enters an adjustment of `amountWei` to node `nodeId`'s reward in report `report`.
    function enterAdjustment(uint64 report, uint64 nodeId, int256 amountWei, string calldata reason)
        external
        onlyOwner
    {
        if (report == 0) revert ReportZero();
        if (nodeId == 0) revert ZeroNode();
        if (amountWei == 0) revert ZeroAmount();
        // The oracle computes in 128-bit integers.
        if (amountWei > type(int128).max || amountWei < -type(int128).max) revert AmountOutOfRange(amountWei);
        uint256 length = bytes(reason).length;
        if (length == 0 || length > MAX_REASON_BYTES) revert ReasonLength(length, MAX_REASON_BYTES);
        uint256 total = adjustedWei[report] + uint256(amountWei < 0 ? -amountWei : amountWei);
        if (total > adjustmentCapWei) revert AboveCap(report, total, adjustmentCapWei);
        adjustedWei[report] = total;
        adjustments[report].push(Adjustment(nodeId, amountWei, reason));
        emit AdjustmentEntered(report, nodeId, amountWei, reason);
    }

    /// The adjustments entered for report `report`, in entry order.
    function adjustmentsOf(uint64 report) external view returns (Adjustment[] memory) {
        return adjustments[report];
    }

    /// Without an owner no price could ever be published again.
    function renounceOwnership() public view override onlyOwner {
        revert RenounceDisabled();
    }
}
