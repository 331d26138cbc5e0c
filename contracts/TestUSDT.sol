// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title tUSDT: the marketplace's payment token ("testUSDT", 18 decimals, as in v1).
/// @notice Organizations hold it and pay per AI call; creators earn and withdraw it.
contract TestUSDT is ERC20, Ownable {
    /// @notice Minting after deployment exists on test chains only; fixed at deployment.
    bool public immutable faucetEnabled;

    error FaucetDisabled();

    constructor(uint256 initialSupply_, bool faucetEnabled_) ERC20("testUSDT", "tUSDT") Ownable(msg.sender) {
        faucetEnabled = faucetEnabled_;
        _mint(msg.sender, initialSupply_);
    }

    /// @notice Faucet mint for test chains: the owner (the server) mints to a wallet.
    function mint(address to, uint256 amount) external onlyOwner {
        if (!faucetEnabled) revert FaucetDisabled();
        _mint(to, amount);
    }
}
