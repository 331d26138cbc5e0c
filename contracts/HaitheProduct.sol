// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title A marketplace product (prompt set, knowledge base, tool) sold per call.
/// @notice Deployed by the orchestrator's addProduct; its content lives at `uri`, encrypted for the TEE.
contract HaitheProduct {
    address public immutable orchestrator;
    address public immutable creator;
    uint256 public immutable creatorId;

    string public name;
    string public uri;
    string public iv;
    string public encryptedKeyForTEE;
    string public category;
    uint256 public pricePerCall;

    event ProductPriceUpdated(uint256 oldPrice, uint256 newPrice);

    error NotCreator(address caller);

    constructor(
        string memory name_,
        string memory uri_,
        string memory iv_,
        string memory encryptedKeyForTEE_,
        string memory category_,
        uint256 pricePerCall_,
        address creator_,
        uint256 creatorId_
    ) {
        orchestrator = msg.sender;
        name = name_;
        uri = uri_;
        iv = iv_;
        encryptedKeyForTEE = encryptedKeyForTEE_;
        category = category_;
        pricePerCall = pricePerCall_;
        creator = creator_;
        creatorId = creatorId_;
    }

    function setPricePerCall(uint256 pricePerCall_) external {
        if (msg.sender != creator) revert NotCreator(msg.sender);
        emit ProductPriceUpdated(pricePerCall, pricePerCall_);
        pricePerCall = pricePerCall_;
    }
}
