// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {HaitheCreatorIdentity} from "./HaitheCreatorIdentity.sol";
import {HaitheOrganization} from "./HaitheOrganization.sol";
import {HaitheProduct} from "./HaitheProduct.sol";

/// @title The marketplace's factory and cashier.
/// @notice Deploys organizations and products, registers creators, and charges organizations for
///         AI calls on behalf of the server. Keeps every v1 function signature; adds the events an
///         indexer needs and the batch settlement `settleUsage`.
contract HaitheOrchestrator is Ownable {
    using SafeERC20 for IERC20;

    IERC20 public immutable usdt;
    HaitheCreatorIdentity public immutable creatorIdentity;
    /// @notice The only account allowed to register creators and charge organizations.
    address public server;

    mapping(address creator => uint256 tokenId) public creators;

    mapping(address => bool) public isProduct;
    address[] public products;
    mapping(string => bool) public productNameExists;
    mapping(address product => uint256 creatorId) public productCreatorId;

    mapping(address => bool) public isOrganization;
    address[] public organizations;
    mapping(string => bool) public organizationNameExists;
    mapping(address => uint256) private _organizationIndexPlusOne;

    mapping(bytes32 batchId => bool) public settledBatches;

    event OrganizationCreated(address indexed organization, address indexed owner, string name, uint256 index);
    event ProductCreated(
        address indexed product,
        address indexed creator,
        uint256 indexed creatorId,
        string name,
        string category,
        string uri,
        uint256 pricePerCall,
        uint256 index
    );
    event CreatorRegistered(address indexed creator, uint256 indexed tokenId, string uri);
    event OrganizationExpenditure(address indexed organization, uint256 amount, address indexed spender);
    event CreatorPaid(
        address indexed organization, uint256 indexed creatorId, address indexed product, uint256 amount, uint256 calls
    );
    event ModelFeePaid(address indexed organization, uint256 amount, uint256 calls);
    event UsageSettled(address indexed organization, bytes32 indexed batchId, uint256 total, uint256 lines);
    event ServerChanged(address indexed previousServer, address indexed newServer);

    error NotServer(address caller);
    error NotACreator(address caller);
    error AlreadyACreator(address creator);
    error EmptyName();
    error NameTaken(string name);
    error NotAnOrganization(address organization);
    error NotAProduct(address product);
    error BatchAlreadySettled(bytes32 batchId);
    error LengthMismatch();
    error ZeroAddress();

    modifier onlyServer() {
        if (msg.sender != server) revert NotServer(msg.sender);
        _;
    }

    constructor(address usdt_) Ownable(msg.sender) {
        usdt = IERC20(usdt_);
        server = msg.sender;
        creatorIdentity = new HaitheCreatorIdentity(usdt_);
        emit ServerChanged(address(0), msg.sender);
    }

    function setServer(address server_) external onlyOwner {
        if (server_ == address(0)) revert ZeroAddress();
        emit ServerChanged(server, server_);
        server = server_;
    }

    function organizationsCount() external view returns (uint256) {
        return organizations.length;
    }

    function productsCount() external view returns (uint256) {
        return products.length;
    }

    /// @notice Position of an organization in `organizations` (v1 searched the product list).
    function getOrganizationIndex(address organization) external view returns (uint256) {
        uint256 indexPlusOne = _organizationIndexPlusOne[organization];
        if (indexPlusOne == 0) revert NotAnOrganization(organization);
        return indexPlusOne - 1;
    }

    function registerAsCreator(address creator_, string calldata uri_, bytes32 pvtKeySeed_, string calldata pubKey_)
        external
        onlyServer
        returns (uint256 tokenId)
    {
        if (creators[creator_] != 0) revert AlreadyACreator(creator_);
        tokenId = creatorIdentity.mint(creator_, uri_, pvtKeySeed_, pubKey_);
        creators[creator_] = tokenId;
        emit CreatorRegistered(creator_, tokenId, uri_);
    }

    function addProduct(
        string calldata name_,
        string calldata uri_,
        string calldata iv_,
        string calldata encryptedKeyForTEE_,
        string calldata category_,
        uint256 pricePerCall_
    ) external returns (address product) {
        uint256 creatorId = creators[msg.sender];
        if (creatorId == 0) revert NotACreator(msg.sender);
        if (bytes(name_).length == 0) revert EmptyName();
        if (productNameExists[name_]) revert NameTaken(name_);
        product = address(
            new HaitheProduct(name_, uri_, iv_, encryptedKeyForTEE_, category_, pricePerCall_, msg.sender, creatorId)
        );
        productNameExists[name_] = true;
        isProduct[product] = true;
        productCreatorId[product] = creatorId;
        products.push(product);
        emit ProductCreated(product, msg.sender, creatorId, name_, category_, uri_, pricePerCall_, products.length - 1);
    }

    function createOrganization(string calldata name_) external returns (address organization) {
        if (bytes(name_).length == 0) revert EmptyName();
        if (organizationNameExists[name_]) revert NameTaken(name_);
        organization = address(new HaitheOrganization(name_, msg.sender));
        organizationNameExists[name_] = true;
        isOrganization[organization] = true;
        organizations.push(organization);
        _organizationIndexPlusOne[organization] = organizations.length;
        emit OrganizationCreated(organization, msg.sender, name_, organizations.length - 1);
    }

    /// @notice v1's per-call product charge, now server-only. Emitted with no product (address 0).
    function collectPaymentForCall(address org, uint256 creatorId, address spender, uint256 amount)
        external
        onlyServer
    {
        _requireOrganization(org);
        creatorIdentity.registerFunds(creatorId, amount);
        usdt.safeTransferFrom(org, address(creatorIdentity), amount);
        emit CreatorPaid(org, creatorId, address(0), amount, 1);
        emit OrganizationExpenditure(org, amount, spender);
    }

    /// @notice v1's per-call model fee, now server-only.
    function collectPaymentForLLMCall(address org, address spender, uint256 amount) external onlyServer {
        _requireOrganization(org);
        usdt.safeTransferFrom(org, address(this), amount);
        emit ModelFeePaid(org, amount, 1);
        emit OrganizationExpenditure(org, amount, spender);
    }

    /// @notice Charges many calls in one transaction: per product, `amounts[i]` for `calls[i]` calls
    ///         goes to the product's creator; `modelFee` for `modelCalls` calls goes to the orchestrator.
    ///         A batch id settles once; a repeat reverts, so a retried transaction cannot charge twice.
    function settleUsage(
        address organization,
        bytes32 batchId,
        address[] calldata products_,
        uint256[] calldata amounts,
        uint256[] calldata calls,
        uint256 modelFee,
        uint256 modelCalls
    ) external onlyServer {
        _requireOrganization(organization);
        if (settledBatches[batchId]) revert BatchAlreadySettled(batchId);
        if (products_.length != amounts.length || products_.length != calls.length) revert LengthMismatch();
        settledBatches[batchId] = true;

        uint256 creatorsTotal;
        for (uint256 i = 0; i < products_.length; i++) {
            address product = products_[i];
            uint256 creatorId = productCreatorId[product];
            if (creatorId == 0) revert NotAProduct(product);
            creatorIdentity.registerFunds(creatorId, amounts[i]);
            creatorsTotal += amounts[i];
            emit CreatorPaid(organization, creatorId, product, amounts[i], calls[i]);
        }
        if (creatorsTotal > 0) usdt.safeTransferFrom(organization, address(creatorIdentity), creatorsTotal);

        uint256 lines = products_.length;
        if (modelFee > 0 || modelCalls > 0) {
            if (modelFee > 0) usdt.safeTransferFrom(organization, address(this), modelFee);
            emit ModelFeePaid(organization, modelFee, modelCalls);
            lines += 1;
        }

        uint256 total = creatorsTotal + modelFee;
        emit OrganizationExpenditure(organization, total, msg.sender);
        emit UsageSettled(organization, batchId, total, lines);
    }

    /// @notice Moves collected model fees out of the orchestrator (the platform's revenue).
    function withdrawModelFees(address to, uint256 amount) external onlyOwner {
        usdt.safeTransfer(to, amount);
    }

    function _requireOrganization(address organization) private view {
        if (!isOrganization[organization]) revert NotAnOrganization(organization);
    }
}
