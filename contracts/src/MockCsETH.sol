// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ICsETH} from "./ICsETH.sol";

/// @title csETH stand-in for tests and the local testnet.
/// @notice An ERC20 minted from deposits of ETH at an exchange rate (`ethPerCsEth`, ETH wei per
/// 1e18 csETH; 1:1 at deployment), as the real token mints from staked ETH. Anyone may change
/// the rate (to model accrued yield) and anyone may mint without paying (test token): never
/// deploy it where the token has value.
contract MockCsETH is ERC20, ICsETH {
    uint256 public constant ONE = 1e18;
    /// ETH wei that 1e18 csETH is worth.
    uint256 public ethPerCsEth = ONE;

    event ExchangeRateSet(uint256 ethPerCsEth);

    error ZeroRate();

    constructor() ERC20("ClayStack staked ETH (mock)", "csETH") {}

    /// Mints `amount` to `to`; open to anyone (test token).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// Sets the exchange rate; open to anyone (test token).
    function setExchangeRate(uint256 ethPerCsEth_) external {
        if (ethPerCsEth_ == 0) revert ZeroRate();
        ethPerCsEth = ethPerCsEth_;
        emit ExchangeRateSet(ethPerCsEth_);
    }

    function deposit() external payable returns (uint256 minted) {
        minted = Math.mulDiv(msg.value, ONE, ethPerCsEth);
        _mint(msg.sender, minted);
    }

    function convertToEth(uint256 amount) external view returns (uint256) {
        return Math.mulDiv(amount, ethPerCsEth, ONE);
    }

    function convertToCsEthUp(uint256 ethAmount) external view returns (uint256) {
        return Math.mulDiv(ethAmount, ONE, ethPerCsEth, Math.Rounding.Ceil);
    }
}
