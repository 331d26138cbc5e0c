// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";

interface IHaitheOrchestratorView {
    function usdt() external view returns (IERC20);
    function isProduct(address product) external view returns (bool);
}

/// @title An organization's wallet: holds tUSDT and the set of products it has enabled.
/// @notice Deployed by the orchestrator's createOrganization; funded by a plain tUSDT transfer.
///         It approves the orchestrator to charge it; only the orchestrator's server may do so.
contract HaitheOrganization is Ownable {
    using EnumerableSet for EnumerableSet.AddressSet;
    using SafeERC20 for IERC20;

    address public immutable orchestrator;
    IERC20 public immutable usdt;
    string public name;

    EnumerableSet.AddressSet private _enabledProducts;

    event ProductEnabled(address indexed product);
    event ProductDisabled(address indexed product);

    error NotAProduct(address product);
    error ProductAlreadyEnabled(address product);
    error ProductNotEnabled(address product);

    constructor(string memory name_, address owner_) Ownable(owner_) {
        orchestrator = msg.sender;
        usdt = IHaitheOrchestratorView(msg.sender).usdt();
        name = name_;
        usdt.forceApprove(msg.sender, type(uint256).max);
    }

    /// @notice The organization's tUSDT balance.
    function balance() external view returns (uint256) {
        return usdt.balanceOf(address(this));
    }

    function enableProduct(address product) external onlyOwner {
        if (!IHaitheOrchestratorView(orchestrator).isProduct(product)) revert NotAProduct(product);
        if (!_enabledProducts.add(product)) revert ProductAlreadyEnabled(product);
        emit ProductEnabled(product);
    }

    function disableProduct(address product) external onlyOwner {
        if (!_enabledProducts.remove(product)) revert ProductNotEnabled(product);
        emit ProductDisabled(product);
    }

    function isProductEnabled(address product) external view returns (bool) {
        return _enabledProducts.contains(product);
    }

    function getEnabledProducts() external view returns (address[] memory) {
        return _enabledProducts.values();
    }
}
