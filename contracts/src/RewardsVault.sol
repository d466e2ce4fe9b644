// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

/// @title ClayStack execution-rewards vault: the protocol validators' fee recipient.
/// @notice Priority fees (the vault is the block's fee recipient) and MEV payments (plain
/// transfers) land here. The oracle measures what the vault received between two blocks as
/// the difference of `totalReceived()` at the two blocks: the balance plus everything ever
/// withdrawn, so moving ETH out (only `withdraw` can) never looks like negative fees.
/// @dev ETH forced in without a call (a fee credit, `selfdestruct`) counts as received, as it is.
contract RewardsVault is Ownable2Step {
    /// Every wei sent out by `withdraw`, ever.
    uint256 public totalWithdrawn;

    event Received(address indexed from, uint256 amount);
    event Withdrawn(address indexed to, uint256 amount);

    error WithdrawFailed(address to, uint256 amount);
    error RenounceDisabled();

    constructor(address owner_) Ownable(owner_) {}

    receive() external payable {
        emit Received(msg.sender, msg.value);
    }

    /// Balance plus everything withdrawn: only ever grows.
    function totalReceived() external view returns (uint256) {
        return address(this).balance + totalWithdrawn;
    }

    /// Sends `amount` to `to` (the protocol moves the fees on, e.g. to the NodeManager that pays
    /// operators). Counted before the call, so a reentrant read sees a consistent total.
    function withdraw(address payable to, uint256 amount) external onlyOwner {
        totalWithdrawn += amount;
        emit Withdrawn(to, amount);
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert WithdrawFailed(to, amount);
    }

    /// A vault without an owner could never move its fees on.
    function renounceOwnership() public view override onlyOwner {
        revert RenounceDisabled();
    }
}
