// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title csETH stand-in for tests and the local testnet.
/// @notice A plain ERC20 that anyone can mint. Bonds are held in csETH; the real token accrues
/// staking yield through its exchange rate, which this mock does not model (1 csETH = 1 ETH).
/// Never deploy it where the token has value.
contract MockCsETH is ERC20 {
    constructor() ERC20("ClayStack staked ETH (mock)", "csETH") {}

    /// Mints `amount` to `to`; open to anyone (test token).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
