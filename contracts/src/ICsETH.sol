// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title What the registry needs of csETH: an ERC20 minted from deposits of ETH at an
/// exchange rate that grows with staking yield.
interface ICsETH is IERC20 {
    /// Mints csETH for the ETH sent, at the current rate, to the caller; returns the amount.
    function deposit() external payable returns (uint256 minted);
    /// The ETH value of `amount` csETH at the current rate (rounded down).
    function convertToEth(uint256 amount) external view returns (uint256);
    /// The csETH worth `ethAmount` at the current rate (rounded up: at least that value).
    function convertToCsEthUp(uint256 ethAmount) external view returns (uint256);
}
