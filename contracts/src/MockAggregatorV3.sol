// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IAggregatorV3} from "./IAggregatorV3.sol";

/// @title Price feed stand-in for tests and the local testnet (SSV priced in ETH).
/// @notice Answers like a Chainlink aggregator: rounds numbered from 1, each with its answer and
/// the time it was set. Anyone may post a round (test feed): never deploy it where a price
/// matters.
contract MockAggregatorV3 is IAggregatorV3 {
    struct Round {
        int256 answer;
        uint256 updatedAt;
    }

    uint8 public immutable decimals;
    string public description;
    uint256 public constant version = 4;
    uint80 public latestRound;
    mapping(uint80 => Round) private rounds;

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    error NoData(uint80 roundId);

    constructor(uint8 decimals_, string memory description_, int256 initialAnswer) {
        decimals = decimals_;
        description = description_;
        _post(initialAnswer, block.timestamp);
    }

    /// Posts a new round with `answer`, updated now; open to anyone (test feed).
    function postAnswer(int256 answer) external {
        _post(answer, block.timestamp);
    }

    /// Posts a new round whose `updatedAt` is `updatedAt` (to model a stale feed); open to anyone.
    function postAnswerAt(int256 answer, uint256 updatedAt) external {
        _post(answer, updatedAt);
    }

    function getRoundData(uint80 roundId) public view returns (uint80, int256, uint256, uint256, uint80) {
        Round storage r = rounds[roundId];
        if (r.updatedAt == 0) revert NoData(roundId);
        return (roundId, r.answer, r.updatedAt, r.updatedAt, roundId);
    }

    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return getRoundData(latestRound);
    }

    function _post(int256 answer, uint256 updatedAt) private {
        latestRound += 1;
        rounds[latestRound] = Round(answer, updatedAt);
        emit AnswerUpdated(answer, latestRound, updatedAt);
    }
}
