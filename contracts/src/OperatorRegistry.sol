// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title ClayStack operator registry: operators, their nodes, the validators the protocol
/// delegates to them, bonds and exits.
/// @notice Who does what:
/// - an operator registers its account and its nodes (SSV, Obol or direct) and deposits its bond
///   in csETH; it withdraws the part above its current bond requirement and asks for voluntary
///   exits;
/// - the protocol (the owner) delegates validators to clusters of nodes and confirms exits;
/// - the NodeManager, on quorum-signed oracle reports, sets bond requirements, slashes bond
///   penalties and publishes requested exits.
/// Every change emits an event, and the view functions enumerate the whole registry, so an
/// off-chain reader can rebuild it at any block with `eth_call`.
/// @dev Ids are 1-based (0 means none): operator id = index + 1 in registration order, the same
/// for nodes and validators. Amounts of csETH are in its base units; the bond requirement is
/// compared with them one to one (the mock csETH is 1:1 with ETH; a token with an exchange rate
/// would convert the requirement first).
contract OperatorRegistry is Ownable {
    using SafeERC20 for IERC20;

    enum NodeType {
        SSV,
        Obol,
        Direct
    }

    enum ValidatorStatus {
        None,
        Active,
        VoluntaryExitRequested,
        ExitRequested,
        Exited
    }

    /// Chain timing and exit rules, fixed at deployment.
    struct Config {
        /// Beacon chain genesis time (seconds): epochs are counted from it.
        uint64 beaconGenesisTime;
        /// Seconds per beacon epoch (mainnet 12 * 32 = 384).
        uint64 secondsPerEpoch;
        /// Nodes in an Obol cluster (genesis `node_types.obol.cluster_size`).
        uint8 obolClusterSize;
        /// A voluntary exit is assigned the epoch `current + voluntaryExitDelayEpochs`...
        uint64 voluntaryExitDelayEpochs;
        /// ...or `current + fastTrackExitDelayEpochs` when fast-tracked.
        uint64 fastTrackExitDelayEpochs;
    }

    struct Operator {
        address account;
        string name;
        string metadata;
        uint64 registeredEpoch;
    }

    struct Node {
        uint256 operatorId;
        NodeType nodeType;
        uint64 registeredEpoch;
        string metadata;
    }

    struct Validator {
        bytes pubkey;
        /// The cluster that runs it: `clusterSize(type)` distinct nodes of one type, ascending ids.
        uint256[] nodeIds;
        ValidatorStatus status;
        /// Exit epoch assigned (voluntary), required (requested, "exit by") or confirmed (exited).
        uint64 exitEpoch;
    }

    uint8 public constant SSV_CLUSTER_SIZE = 5;
    uint256 public constant PUBKEY_LENGTH = 48;

    IERC20 public immutable csETH;
    /// Receives slashed bonds.
    address public immutable treasury;
    uint64 public immutable beaconGenesisTime;
    uint64 public immutable secondsPerEpoch;
    uint8 public immutable obolClusterSize;
    uint64 public immutable voluntaryExitDelayEpochs;
    uint64 public immutable fastTrackExitDelayEpochs;

    /// The NodeManager allowed to set requirements, slash and request exits.
    address public nodeManager;

    Operator[] private _operators;
    mapping(address account => uint256 operatorId) public operatorIdOf;
    Node[] private _nodes;
    mapping(uint256 operatorId => uint256[] nodeIds) private _nodesOf;
    Validator[] private _validators;
    mapping(bytes32 pubkeyHash => uint256 validatorId) public validatorIdOf;
    mapping(uint256 nodeId => uint256[] validatorIds) private _validatorsOf;

    mapping(address operator => uint256 amount) public bondOf;
    mapping(address operator => uint256 amount) public bondRequirementOf;

    event NodeManagerSet(address indexed nodeManager);
    event OperatorRegistered(uint256 indexed operatorId, address indexed account, string name, string metadata);
    event NodeAdded(
        uint256 indexed nodeId, uint256 indexed operatorId, NodeType nodeType, uint64 registeredEpoch, string metadata
    );
    event ValidatorAdded(uint256 indexed validatorId, bytes32 indexed pubkeyHash, bytes pubkey, uint256[] nodeIds);
    event BondDeposited(address indexed operator, uint256 amount, uint256 bond);
    event BondWithdrawn(address indexed operator, uint256 amount, uint256 bond);
    /// `requested` is what the report asked for; `slashed` what the bond could pay (sent to the treasury).
    event BondSlashed(address indexed operator, uint256 requested, uint256 slashed, uint256 bond);
    event BondRequirementSet(address indexed operator, uint256 requirement);
    event VoluntaryExitRequested(
        uint256 indexed validatorId,
        bytes32 indexed pubkeyHash,
        address indexed operator,
        bool fastTrack,
        uint64 exitEpoch
    );
    event ExitRequested(
        uint256 indexed validatorId,
        bytes32 indexed pubkeyHash,
        address indexed operator,
        uint64 validatorIndex,
        uint64 exitByEpoch,
        uint64 reportNumber
    );
    event ExitConfirmed(uint256 indexed validatorId, bytes32 indexed pubkeyHash, uint64 exitEpoch);

    error NotNodeManager(address caller);
    error NotOperator(address caller);
    error AlreadyRegistered(address account, uint256 operatorId);
    error UnknownOperator(uint256 operatorId);
    error EmptyName();
    error InvalidConfig(string what);
    error UnknownNode(uint256 nodeId);
    error InvalidPubkeyLength(uint256 length);
    error ValidatorExists(bytes32 pubkeyHash, uint256 validatorId);
    error WrongClusterSize(NodeType nodeType, uint256 expected, uint256 given);
    error ClusterNotCanonical(uint256 position);
    error MixedNodeTypes(uint256 nodeId, NodeType expected, NodeType found);
    error ZeroAmount();
    error BondBelowRequirement(uint256 bond, uint256 amount, uint256 requirement);
    error UnknownValidator(bytes32 pubkeyHash);
    error UnknownValidatorId(uint256 validatorId);
    error NotValidatorOperator(address operator, uint256 validatorId);
    error WrongValidatorStatus(uint256 validatorId, ValidatorStatus status);

    modifier onlyNodeManager() {
        if (msg.sender != nodeManager) revert NotNodeManager(msg.sender);
        _;
    }

    constructor(address owner_, IERC20 csETH_, address treasury_, Config memory config) Ownable(owner_) {
        if (address(csETH_) == address(0)) revert InvalidConfig("csETH is the zero address");
        if (treasury_ == address(0)) revert InvalidConfig("treasury is the zero address");
        if (config.secondsPerEpoch == 0) revert InvalidConfig("secondsPerEpoch is 0");
        if (config.obolClusterSize == 0) revert InvalidConfig("obolClusterSize is 0");
        csETH = csETH_;
        treasury = treasury_;
        beaconGenesisTime = config.beaconGenesisTime;
        secondsPerEpoch = config.secondsPerEpoch;
        obolClusterSize = config.obolClusterSize;
        voluntaryExitDelayEpochs = config.voluntaryExitDelayEpochs;
        fastTrackExitDelayEpochs = config.fastTrackExitDelayEpochs;
    }

    // ----------------------------------------------------------------------------------------
    // Protocol (owner)
    // ----------------------------------------------------------------------------------------

    /// Points the registry at the NodeManager whose reports it follows (a new committee is a
    /// new NodeManager).
    function setNodeManager(address nodeManager_) external onlyOwner {
        nodeManager = nodeManager_;
        emit NodeManagerSet(nodeManager_);
    }

    /// Delegates a validator (48-byte BLS pubkey, unique) to a cluster of nodes: `clusterSize`
    /// distinct nodes of one type, given in ascending id order.
    function addValidator(bytes calldata pubkey, uint256[] calldata nodeIds)
        external
        onlyOwner
        returns (uint256 validatorId)
    {
        if (pubkey.length != PUBKEY_LENGTH) revert InvalidPubkeyLength(pubkey.length);
        bytes32 pubkeyHash = keccak256(pubkey);
        if (validatorIdOf[pubkeyHash] != 0) revert ValidatorExists(pubkeyHash, validatorIdOf[pubkeyHash]);
        if (nodeIds.length == 0) revert WrongClusterSize(NodeType.Direct, 1, 0);
        NodeType nodeType = _node(nodeIds[0]).nodeType;
        uint256 size = clusterSize(nodeType);
        if (nodeIds.length != size) revert WrongClusterSize(nodeType, size, nodeIds.length);
        for (uint256 i = 1; i < nodeIds.length; i++) {
            if (nodeIds[i] <= nodeIds[i - 1]) revert ClusterNotCanonical(i);
            NodeType t = _node(nodeIds[i]).nodeType;
            if (t != nodeType) revert MixedNodeTypes(nodeIds[i], nodeType, t);
        }
        _validators.push(Validator({pubkey: pubkey, nodeIds: nodeIds, status: ValidatorStatus.Active, exitEpoch: 0}));
        validatorId = _validators.length;
        validatorIdOf[pubkeyHash] = validatorId;
        for (uint256 i = 0; i < nodeIds.length; i++) {
            _validatorsOf[nodeIds[i]].push(validatorId);
        }
        emit ValidatorAdded(validatorId, pubkeyHash, pubkey, nodeIds);
    }

    /// Records that a validator has left the beacon chain (voluntary, requested or forced).
    function confirmExit(bytes32 pubkeyHash, uint64 exitEpoch) external onlyOwner {
        uint256 validatorId = _validatorId(pubkeyHash);
        Validator storage v = _validators[validatorId - 1];
        if (v.status == ValidatorStatus.Exited) revert WrongValidatorStatus(validatorId, v.status);
        v.status = ValidatorStatus.Exited;
        v.exitEpoch = exitEpoch;
        emit ExitConfirmed(validatorId, pubkeyHash, exitEpoch);
    }

    // ----------------------------------------------------------------------------------------
    // Operators
    // ----------------------------------------------------------------------------------------

    /// Registers the caller as an operator; its address is where it claims rewards.
    function registerOperator(string calldata name, string calldata metadata) external returns (uint256 operatorId) {
        if (operatorIdOf[msg.sender] != 0) revert AlreadyRegistered(msg.sender, operatorIdOf[msg.sender]);
        if (bytes(name).length == 0) revert EmptyName();
        _operators.push(
            Operator({account: msg.sender, name: name, metadata: metadata, registeredEpoch: currentEpoch()})
        );
        operatorId = _operators.length;
        operatorIdOf[msg.sender] = operatorId;
        emit OperatorRegistered(operatorId, msg.sender, name, metadata);
    }

    /// Adds a node of the caller's; `metadata` is free text (location, client, SSV operator id...).
    function addNode(NodeType nodeType, string calldata metadata) external returns (uint256 nodeId) {
        uint256 operatorId = _callerOperatorId();
        uint64 epoch = currentEpoch();
        _nodes.push(Node({operatorId: operatorId, nodeType: nodeType, registeredEpoch: epoch, metadata: metadata}));
        nodeId = _nodes.length;
        _nodesOf[operatorId].push(nodeId);
        emit NodeAdded(nodeId, operatorId, nodeType, epoch, metadata);
    }

    /// Adds `amount` csETH to the caller's bond (approve the registry first).
    function depositBond(uint256 amount) external {
        _callerOperatorId();
        if (amount == 0) revert ZeroAmount();
        csETH.safeTransferFrom(msg.sender, address(this), amount);
        uint256 bond = bondOf[msg.sender] + amount;
        bondOf[msg.sender] = bond;
        emit BondDeposited(msg.sender, amount, bond);
    }

    /// Withdraws `amount` csETH of the caller's bond; what stays must cover its requirement.
    function withdrawBond(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        uint256 bond = bondOf[msg.sender];
        uint256 requirement = bondRequirementOf[msg.sender];
        if (amount > bond || bond - amount < requirement) revert BondBelowRequirement(bond, amount, requirement);
        bond -= amount;
        bondOf[msg.sender] = bond;
        csETH.safeTransfer(msg.sender, amount);
        emit BondWithdrawn(msg.sender, amount, bond);
    }

    /// Asks the protocol to exit one of the caller's validators (its node is in the validator's
    /// cluster). The exit epoch is `currentEpoch() + voluntaryExitDelayEpochs`, or
    /// `+ fastTrackExitDelayEpochs` when fast-tracked; the nodes keep running until the exit is
    /// confirmed.
    function requestVoluntaryExit(bytes calldata pubkey, bool fastTrack) external returns (uint64 exitEpoch) {
        bytes32 pubkeyHash = keccak256(pubkey);
        uint256 validatorId = _validatorId(pubkeyHash);
        Validator storage v = _validators[validatorId - 1];
        if (!_runsValidator(msg.sender, v)) revert NotValidatorOperator(msg.sender, validatorId);
        if (v.status != ValidatorStatus.Active) revert WrongValidatorStatus(validatorId, v.status);
        exitEpoch = currentEpoch() + (fastTrack ? fastTrackExitDelayEpochs : voluntaryExitDelayEpochs);
        v.status = ValidatorStatus.VoluntaryExitRequested;
        v.exitEpoch = exitEpoch;
        emit VoluntaryExitRequested(validatorId, pubkeyHash, msg.sender, fastTrack, exitEpoch);
    }

    // ----------------------------------------------------------------------------------------
    // NodeManager (quorum-signed reports)
    // ----------------------------------------------------------------------------------------

    /// Takes up to `amount` from `operator`'s bond to the treasury; returns what was taken.
    function slashBond(address operator, uint256 amount) external onlyNodeManager returns (uint256 slashed) {
        uint256 bond = bondOf[operator];
        slashed = amount < bond ? amount : bond;
        bond -= slashed;
        bondOf[operator] = bond;
        if (slashed != 0) csETH.safeTransfer(treasury, slashed);
        emit BondSlashed(operator, amount, slashed, bond);
    }

    /// Sets `operator`'s bond requirement (from the latest rewards report).
    function setBondRequirement(address operator, uint256 requirement) external onlyNodeManager {
        if (bondRequirementOf[operator] == requirement) return;
        bondRequirementOf[operator] = requirement;
        emit BondRequirementSet(operator, requirement);
    }

    /// Marks a validator's exit requested by an exits report: `operator` runs one of its nodes
    /// and must exit it by `exitByEpoch`. A voluntary exit already asked for is superseded.
    function markExitRequested(
        address operator,
        uint64 validatorIndex,
        bytes32 pubkeyHash,
        uint64 exitByEpoch,
        uint64 reportNumber
    ) external onlyNodeManager {
        uint256 validatorId = _validatorId(pubkeyHash);
        Validator storage v = _validators[validatorId - 1];
        if (!_runsValidator(operator, v)) revert NotValidatorOperator(operator, validatorId);
        if (v.status != ValidatorStatus.Active && v.status != ValidatorStatus.VoluntaryExitRequested) {
            revert WrongValidatorStatus(validatorId, v.status);
        }
        v.status = ValidatorStatus.ExitRequested;
        v.exitEpoch = exitByEpoch;
        emit ExitRequested(validatorId, pubkeyHash, operator, validatorIndex, exitByEpoch, reportNumber);
    }

    // ----------------------------------------------------------------------------------------
    // Views (enumerate everything at a block)
    // ----------------------------------------------------------------------------------------

    /// The beacon epoch of the current block (0 before beacon genesis).
    function currentEpoch() public view returns (uint64) {
        if (block.timestamp < beaconGenesisTime) return 0;
        return uint64((block.timestamp - beaconGenesisTime) / secondsPerEpoch);
    }

    /// Nodes that run one validator of `nodeType`: SSV 5, Obol as configured, direct 1.
    function clusterSize(NodeType nodeType) public view returns (uint256) {
        if (nodeType == NodeType.SSV) return SSV_CLUSTER_SIZE;
        if (nodeType == NodeType.Obol) return obolClusterSize;
        return 1;
    }

    function operatorCount() external view returns (uint256) {
        return _operators.length;
    }

    function getOperator(uint256 operatorId) external view returns (Operator memory) {
        if (operatorId == 0 || operatorId > _operators.length) revert UnknownOperator(operatorId);
        return _operators[operatorId - 1];
    }

    /// The node ids of an operator, in registration order.
    function nodesOf(uint256 operatorId) external view returns (uint256[] memory) {
        return _nodesOf[operatorId];
    }

    function nodeCount() external view returns (uint256) {
        return _nodes.length;
    }

    function getNode(uint256 nodeId) external view returns (Node memory) {
        return _node(nodeId);
    }

    /// The validator ids a node runs, in delegation order.
    function validatorsOf(uint256 nodeId) external view returns (uint256[] memory) {
        return _validatorsOf[nodeId];
    }

    function validatorCount() external view returns (uint256) {
        return _validators.length;
    }

    function getValidator(uint256 validatorId) external view returns (Validator memory) {
        if (validatorId == 0 || validatorId > _validators.length) revert UnknownValidatorId(validatorId);
        return _validators[validatorId - 1];
    }

    /// csETH the operator may withdraw now: its bond above its requirement.
    function withdrawableBond(address operator) external view returns (uint256) {
        uint256 bond = bondOf[operator];
        uint256 requirement = bondRequirementOf[operator];
        return bond > requirement ? bond - requirement : 0;
    }

    // ----------------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------------

    function _callerOperatorId() private view returns (uint256 operatorId) {
        operatorId = operatorIdOf[msg.sender];
        if (operatorId == 0) revert NotOperator(msg.sender);
    }

    function _node(uint256 nodeId) private view returns (Node storage) {
        if (nodeId == 0 || nodeId > _nodes.length) revert UnknownNode(nodeId);
        return _nodes[nodeId - 1];
    }

    function _validatorId(bytes32 pubkeyHash) private view returns (uint256 validatorId) {
        validatorId = validatorIdOf[pubkeyHash];
        if (validatorId == 0) revert UnknownValidator(pubkeyHash);
    }

    /// True when `operator` runs one of the nodes of `v`'s cluster.
    function _runsValidator(address operator, Validator storage v) private view returns (bool) {
        uint256 operatorId = operatorIdOf[operator];
        if (operatorId == 0) return false;
        uint256[] storage nodeIds = v.nodeIds;
        for (uint256 i = 0; i < nodeIds.length; i++) {
            if (_nodes[nodeIds[i] - 1].operatorId == operatorId) return true;
        }
        return false;
    }
}
