// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721URIStorage} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721URIStorage.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title A creator's identity NFT, which also holds the tUSDT the creator has earned.
/// @notice Deployed by the orchestrator, which alone mints and credits funds.
contract HaitheCreatorIdentity is ERC721URIStorage {
    using SafeERC20 for IERC20;

    address public immutable orchestrator;
    IERC20 public immutable usdt;

    /// @notice Token ids start at 1, so that 0 means "not a creator" in the orchestrator.
    uint256 private _nextTokenId = 1;

    mapping(uint256 tokenId => bytes32) public pvtKeySeeds;
    mapping(uint256 tokenId => string) public pubKeys;
    /// @notice tUSDT earned and not yet withdrawn, per token.
    mapping(uint256 tokenId => uint256) public funds;

    event FundsWithdrawn(uint256 indexed tokenId, address indexed to, uint256 amount);

    error NotOrchestrator(address caller);
    error NotTokenOwner(uint256 tokenId, address caller);
    error NothingToWithdraw(uint256 tokenId);
    error IdentityNotTransferable(uint256 tokenId);

    modifier onlyOrchestrator() {
        if (msg.sender != orchestrator) revert NotOrchestrator(msg.sender);
        _;
    }

    constructor(address usdt_) ERC721("Haithe Creator Identity", "HaitheCID") {
        orchestrator = msg.sender;
        usdt = IERC20(usdt_);
    }

    function mint(address to, string calldata uri_, bytes32 pvtKeySeed_, string calldata pubKey_)
        external
        onlyOrchestrator
        returns (uint256 tokenId)
    {
        tokenId = _nextTokenId++;
        _safeMint(to, tokenId);
        _setTokenURI(tokenId, uri_);
        pvtKeySeeds[tokenId] = pvtKeySeed_;
        pubKeys[tokenId] = pubKey_;
    }

    /// @dev Soulbound: the orchestrator maps a creator's wallet to its token, and the token holds
    ///      the creator's earnings; a transfer would split the two. Only minting moves a token.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address) {
        if (_ownerOf(tokenId) != address(0)) revert IdentityNotTransferable(tokenId);
        return super._update(to, tokenId, auth);
    }

    /// @notice The seed the next identity minted for `creator` would derive its keys from.
    function determineNextSeed(address creator) external view returns (bytes32) {
        return keccak256(abi.encode(creator, _nextTokenId, block.chainid, address(this)));
    }

    function registerFunds(uint256 tokenId, uint256 amount) external onlyOrchestrator {
        _requireOwned(tokenId);
        funds[tokenId] += amount;
    }

    /// @notice Pays the token's earned tUSDT to its owner (v1 paid the native coin by mistake).
    function withdrawFunds(uint256 tokenId) external {
        if (ownerOf(tokenId) != msg.sender) revert NotTokenOwner(tokenId, msg.sender);
        uint256 amount = funds[tokenId];
        if (amount == 0) revert NothingToWithdraw(tokenId);
        funds[tokenId] = 0;
        usdt.safeTransfer(msg.sender, amount);
        emit FundsWithdrawn(tokenId, msg.sender, amount);
    }
}
