// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ICsETH} from "./ICsETH.sol";

/// What the registry reads of its NodeManager.
interface INodeManagerView {
    function registry() external view returns (address);
    function lastReportNumber(uint8 kind) external view returns (uint64);
    function settledReport(address operator) external view returns (uint64);
    function bondDebtOf(address operator) external view returns (uint256);
}

/// @title ClayStack operator registry: operators, their nodes, the validators the protocol
/// delegates to them, bonds and exits.
/// @notice Who does what:
/// - an operator registers its account and its nodes (SSV, Obol or direct) and deposits its bond
///   in csETH; it withdraws the part above its current bond requirement and asks for voluntary
///   exits;
/// - the protocol (the owner) delegates validators to clusters of nodes and records each
///   validator's beacon chain index once its deposit is processed;
/// - the NodeManager, on quorum-signed oracle reports, sets bond requirements, slashes bond
///   penalties and publishes the exits of the latest exits report (requested exits and the
///   exit slots of voluntary ones).
/// Exits are confirmed from beacon data by the oracle, not here (docs/exits.md).
/// Every change emits an event, and the view functions enumerate the whole registry, so an
/// off-chain reader can rebuild it at any block with `eth_call`.
/// @dev Ids are 1-based (0 means none): operator id = index + 1 in registration order, the same
/// for nodes and validators. Bonds are held in csETH (its base units, `bondOf`); requirements
/// and penalties are in ETH wei and compared with the bond's ETH value at csETH's current rate.
/// # Bond rules (docs/contracts.md)
/// - Adding a node needs a bond worth the operator's requirement plus the node's increment:
///   the genesis `first_node_bond_wei` of its type for the operator's first node of that type,
///   else the type's `per_node_bond_wei` (no score discount: the reports apply it).
/// - A claimed rewards report sets the requirement to the certified one, plus the increments
///   of nodes added while that report or the one before it was the latest (the report may not
///   count them yet).
/// - A withdrawal is asked for first and done after at least one more rewards report is
///   accepted and the operator's leaf of the latest report is claimed: it can never go below a
///   requirement or penalty certified in an accepted report.
contract OperatorRegistry is Ownable2Step {
    using SafeERC20 for IERC20;
    using SafeERC20 for ICsETH;

    enum NodeType {
        SSV,
        Obol,
        Direct
    }

    /// `Exited` is never set: the oracle confirms exits from beacon data (docs/exits.md). It
    /// stays so the other statuses keep their numbers.
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
        /// Bond (ETH wei) for an operator's first node of each type, by `NodeType` (SSV, Obol,
        /// Direct): genesis `node_types[].first_node_bond_wei`.
        uint256[3] firstNodeBond;
        /// Bond (ETH wei) for each further node of a type: genesis `per_node_bond_wei`.
        uint256[3] perNodeBond;
    }

    /// A withdrawal asked for: `amount` csETH, once a rewards report after `afterReport` is
    /// accepted and claimed.
    struct WithdrawalRequest {
        uint256 amount;
        uint64 afterReport;
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
        /// The exit-by epoch an exits report published for it (a requested exit's deadline or a
        /// voluntary exit's slot); 0 while none is published.
        uint64 exitEpoch;
    }

    uint8 public constant SSV_CLUSTER_SIZE = 5;
    uint256 public constant PUBKEY_LENGTH = 48;
    /// The longest node location, in bytes (`setNodeLocation`).
    uint256 public constant MAX_LOCATION_LENGTH = 32;
    /// Exit kinds of the exits report's leaves (crates/exits `ExitKind::byte`).
    uint8 public constant EXIT_REQUESTED = 0;
    uint8 public constant EXIT_VOLUNTARY = 1;

    ICsETH public immutable csETH;
    /// Receives slashed bonds.
    address public immutable treasury;
    uint64 public immutable beaconGenesisTime;
    uint64 public immutable secondsPerEpoch;
    uint8 public immutable obolClusterSize;
    uint256 private immutable _firstNodeBondSsv;
    uint256 private immutable _firstNodeBondObol;
    uint256 private immutable _firstNodeBondDirect;
    uint256 private immutable _perNodeBondSsv;
    uint256 private immutable _perNodeBondObol;
    uint256 private immutable _perNodeBondDirect;

    /// The NodeManager allowed to set requirements, slash and request exits; set once.
    address public nodeManager;

    Operator[] private _operators;
    mapping(address account => uint256 operatorId) public operatorIdOf;
    Node[] private _nodes;
    mapping(uint256 operatorId => uint256[] nodeIds) private _nodesOf;
    Validator[] private _validators;
    mapping(bytes32 pubkeyHash => uint256 validatorId) public validatorIdOf;
    mapping(uint256 nodeId => uint256[] validatorIds) private _validatorsOf;
    /// Beacon chain validator index => validator id (0: none). Exits reports name validators
    /// by beacon index; the owner records it once the deposit is processed.
    mapping(uint64 validatorIndex => uint256 validatorId) public validatorIdOfIndex;
    /// Validator id => beacon index + 1 (0: not recorded; index 0 is a valid index).
    mapping(uint256 validatorId => uint64 indexPlusOne) private _beaconIndexPlusOne;

    mapping(address operator => uint256 amount) public bondOf;
    /// ETH wei the bond must be worth: the certified requirement plus nodes added since.
    mapping(address operator => uint256 amount) public bondRequirementOf;
    mapping(address operator => WithdrawalRequest) public withdrawalRequestOf;
    /// Nodes of each type an operator has.
    mapping(uint256 operatorId => uint256[3] counts) private _nodeCounts;
    /// The bond a node added to its operator's requirement, and the latest rewards report
    /// number when it was added.
    mapping(uint256 nodeId => uint256 increment) private _nodeBondIncrement;
    mapping(uint256 nodeId => uint64 number) private _nodeAddedAfterReport;
    /// Where each node runs, as its operator declares it ("" until set): the exits selection
    /// balances validators across locations (docs/exits.md §2). Kept beside `Node` rather than
    /// in it so `getNode` and `NodeAdded` keep their ABI.
    mapping(uint256 nodeId => string location) public nodeLocation;

    event NodeManagerSet(address indexed nodeManager);
    event OperatorRegistered(uint256 indexed operatorId, address indexed account, string name, string metadata);
    event NodeAdded(
        uint256 indexed nodeId, uint256 indexed operatorId, NodeType nodeType, uint64 registeredEpoch, string metadata
    );
    /// Node `nodeId`'s location is now `location` ("" clears it).
    event NodeLocationSet(uint256 indexed nodeId, uint256 indexed operatorId, string location);
    event ValidatorAdded(uint256 indexed validatorId, bytes32 indexed pubkeyHash, bytes pubkey, uint256[] nodeIds);
    event BondDeposited(address indexed operator, uint256 amount, uint256 bond);
    event BondWithdrawalRequested(address indexed operator, uint256 amount, uint64 afterReport);
    event BondWithdrawn(address indexed operator, uint256 amount, uint256 bond);
    /// `requested` is the penalty (ETH wei) the report asked for; `slashed` what the bond could
    /// pay (ETH wei), `slashedCsEth` the csETH sent to the treasury for it.
    event BondSlashed(address indexed operator, uint256 requested, uint256 slashed, uint256 slashedCsEth, uint256 bond);
    event BondRequirementSet(address indexed operator, uint256 requirement);
    event BeaconIndexSet(uint256 indexed validatorId, uint64 indexed validatorIndex);
    /// An operator asked to exit a validator; an exits report gives it its slot. The request's
    /// place in the queue is this event's (block, log index).
    event VoluntaryExitRequested(
        uint256 indexed validatorId, bytes32 indexed pubkeyHash, address indexed operator, bool fastTrack
    );
    /// One exit of exits report `reportNumber`, published: `operator` must have the validator's
    /// beacon exit epoch at or before `exitByEpoch` (kind 0 requested: a deadline; kind 1
    /// voluntary: its slot).
    event ExitRequested(
        uint256 indexed validatorId,
        uint64 indexed validatorIndex,
        address indexed operator,
        uint8 kind,
        uint64 exitByEpoch,
        uint64 reportNumber
    );

    error NotNodeManager(address caller);
    error NotOperator(address caller);
    error AlreadyRegistered(address account, uint256 operatorId);
    error UnknownOperator(uint256 operatorId);
    error EmptyName();
    error InvalidConfig(string what);
    error UnknownNode(uint256 nodeId);
    error NotNodeOperator(address caller, uint256 nodeId);
    /// A location longer than `MAX_LOCATION_LENGTH` bytes.
    error LocationTooLong(uint256 length, uint256 max);
    /// A location byte other than `a`-`z`, `0`-`9` and `-`, at `position`.
    error InvalidLocationByte(uint256 position);
    error InvalidPubkeyLength(uint256 length);
    error ValidatorExists(bytes32 pubkeyHash, uint256 validatorId);
    error WrongClusterSize(NodeType nodeType, uint256 expected, uint256 given);
    error ClusterNotCanonical(uint256 position);
    error MixedNodeTypes(uint256 nodeId, NodeType expected, NodeType found);
    error ZeroAmount();
    /// The bond (ETH value `bondValue`) minus `amountValue` would be worth less than `required`.
    error BondBelowRequirement(uint256 bondValue, uint256 amountValue, uint256 required);
    error NodeManagerAlreadySet(address nodeManager);
    error InvalidNodeManager(address nodeManager);
    error NoNodeManager();
    error RenounceDisabled();
    error NoWithdrawalRequest(address operator);
    error WithdrawalTooEarly(uint64 afterReport, uint64 lastReport);
    error LatestReportNotClaimed(address operator, uint64 settled, uint64 lastReport);
    error UnknownValidator(bytes32 pubkeyHash);
    error UnknownValidatorId(uint256 validatorId);
    error NotValidatorOperator(address operator, uint256 validatorId);
    error WrongValidatorStatus(uint256 validatorId, ValidatorStatus status);
    error LengthMismatch(uint256 validatorIds, uint256 indices);
    error BeaconIndexAlreadySet(uint256 validatorId, uint64 validatorIndex);
    error BeaconIndexTaken(uint64 validatorIndex, uint256 validatorId);
    error UnknownValidatorIndex(uint64 validatorIndex);
    error BeaconIndexOutOfRange(uint64 validatorIndex);
    error UnknownExitKind(uint8 kind);
    error ExitDeadlinePassed(uint64 validatorIndex, uint64 exitByEpoch, uint64 currentEpoch);

    modifier onlyNodeManager() {
        if (msg.sender != nodeManager) revert NotNodeManager(msg.sender);
        _;
    }

    constructor(address owner_, ICsETH csETH_, address treasury_, Config memory config) Ownable(owner_) {
        if (address(csETH_) == address(0)) revert InvalidConfig("csETH is the zero address");
        if (treasury_ == address(0)) revert InvalidConfig("treasury is the zero address");
        if (config.secondsPerEpoch == 0) revert InvalidConfig("secondsPerEpoch is 0");
        if (config.obolClusterSize == 0) revert InvalidConfig("obolClusterSize is 0");
        csETH = csETH_;
        treasury = treasury_;
        beaconGenesisTime = config.beaconGenesisTime;
        secondsPerEpoch = config.secondsPerEpoch;
        obolClusterSize = config.obolClusterSize;
        _firstNodeBondSsv = config.firstNodeBond[0];
        _firstNodeBondObol = config.firstNodeBond[1];
        _firstNodeBondDirect = config.firstNodeBond[2];
        _perNodeBondSsv = config.perNodeBond[0];
        _perNodeBondObol = config.perNodeBond[1];
        _perNodeBondDirect = config.perNodeBond[2];
    }

    // ----------------------------------------------------------------------------------------
    // Protocol (owner)
    // ----------------------------------------------------------------------------------------

    /// Points the registry at the NodeManager whose reports it follows, once: a NodeManager
    /// built for this registry. It is never replaced (a new committee is a new deployment of
    /// both), so no claim is left behind in an old one and none is paid twice.
    function setNodeManager(address nodeManager_) external onlyOwner {
        if (nodeManager != address(0)) revert NodeManagerAlreadySet(nodeManager);
        if (nodeManager_.code.length == 0) revert InvalidNodeManager(nodeManager_);
        try INodeManagerView(nodeManager_).registry() returns (address r) {
            if (r != address(this)) revert InvalidNodeManager(nodeManager_);
        } catch {
            revert InvalidNodeManager(nodeManager_);
        }
        nodeManager = nodeManager_;
        emit NodeManagerSet(nodeManager_);
    }

    /// Disabled: a registry without an owner could never delegate validators again.
    function renounceOwnership() public view override onlyOwner {
        revert RenounceDisabled();
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

    /// Records the beacon chain index of each validator in `validatorIds` (once its deposit is
    /// processed; an index never changes). Recording the same pair again changes nothing.
    function setBeaconIndices(uint256[] calldata validatorIds, uint64[] calldata indices) external onlyOwner {
        if (validatorIds.length != indices.length) revert LengthMismatch(validatorIds.length, indices.length);
        for (uint256 i = 0; i < validatorIds.length; i++) {
            uint256 id = validatorIds[i];
            uint64 index = indices[i];
            if (id == 0 || id > _validators.length) revert UnknownValidatorId(id);
            // Beacon indices are far below 2^64 - 1; the bound keeps `index + 1` from overflowing.
            if (index == type(uint64).max) revert BeaconIndexOutOfRange(index);
            uint64 known = _beaconIndexPlusOne[id];
            if (known == uint64(index) + 1) continue;
            if (known != 0) revert BeaconIndexAlreadySet(id, known - 1);
            uint256 holder = validatorIdOfIndex[index];
            if (holder != 0) revert BeaconIndexTaken(index, holder);
            _beaconIndexPlusOne[id] = index + 1;
            validatorIdOfIndex[index] = id;
            emit BeaconIndexSet(id, index);
        }
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
    /// The bond must be worth the requirement with this node's increment (`nodeBondIncrement`).
    function addNode(NodeType nodeType, string calldata metadata) external returns (uint256 nodeId) {
        uint256 operatorId = _callerOperatorId();
        uint256 increment = nodeBondIncrement(operatorId, nodeType);
        uint256 required = bondRequirementOf[msg.sender] + increment;
        uint256 value = csETH.convertToEth(bondOf[msg.sender]);
        if (value < required) revert BondBelowRequirement(value, 0, required);
        bondRequirementOf[msg.sender] = required;
        emit BondRequirementSet(msg.sender, required);

        uint64 epoch = currentEpoch();
        _nodes.push(Node({operatorId: operatorId, nodeType: nodeType, registeredEpoch: epoch, metadata: metadata}));
        nodeId = _nodes.length;
        _nodesOf[operatorId].push(nodeId);
        _nodeCounts[operatorId][uint8(nodeType)]++;
        _nodeBondIncrement[nodeId] = increment;
        _nodeAddedAfterReport[nodeId] = _lastRewardsReport();
        emit NodeAdded(nodeId, operatorId, nodeType, epoch, metadata);
    }

    /// Sets where node `nodeId` of the caller's runs: 0 to `MAX_LOCATION_LENGTH` bytes of
    /// `a`-`z`, `0`-`9` and `-` (e.g. "eu-west"); "" clears it. The exits selection groups
    /// validators by it, so one spelling per place keeps them in one group; an unset location
    /// is a group of its own.
    function setNodeLocation(uint256 nodeId, string calldata location) external {
        uint256 operatorId = _callerOperatorId();
        if (_node(nodeId).operatorId != operatorId) revert NotNodeOperator(msg.sender, nodeId);
        bytes calldata b = bytes(location);
        if (b.length > MAX_LOCATION_LENGTH) revert LocationTooLong(b.length, MAX_LOCATION_LENGTH);
        for (uint256 i = 0; i < b.length; i++) {
            bytes1 c = b[i];
            if (!((c >= "a" && c <= "z") || (c >= "0" && c <= "9") || c == "-")) revert InvalidLocationByte(i);
        }
        nodeLocation[nodeId] = location;
        emit NodeLocationSet(nodeId, operatorId, location);
    }

    /// The bond one more node of `nodeType` adds to operator `operatorId`'s requirement.
    function nodeBondIncrement(uint256 operatorId, NodeType nodeType) public view returns (uint256) {
        bool first = _nodeCounts[operatorId][uint8(nodeType)] == 0;
        if (nodeType == NodeType.SSV) return first ? _firstNodeBondSsv : _perNodeBondSsv;
        if (nodeType == NodeType.Obol) return first ? _firstNodeBondObol : _perNodeBondObol;
        return first ? _firstNodeBondDirect : _perNodeBondDirect;
    }

    /// Adds `amount` csETH to the caller's bond (approve the registry first).
    function depositBond(uint256 amount) external {
        _callerOperatorId();
        if (amount == 0) revert ZeroAmount();
        csETH.safeTransferFrom(msg.sender, address(this), amount);
        _credit(amount);
    }

    /// Bonds the ETH sent: csETH mints it at its current rate, and the csETH is the bond.
    function depositBondWithEth() external payable returns (uint256 minted) {
        _callerOperatorId();
        if (msg.value == 0) revert ZeroAmount();
        minted = csETH.deposit{value: msg.value}();
        _credit(minted);
    }

    /// Asks to withdraw `amount` csETH of the caller's bond (replacing an earlier request; 0
    /// cancels). It can be done with `withdrawBond` once a rewards report after the current
    /// one is accepted and the caller's leaf of the latest report is claimed: whatever the
    /// reports signed before then certify is applied first.
    function requestBondWithdrawal(uint256 amount) external {
        if (amount == 0) {
            delete withdrawalRequestOf[msg.sender];
            emit BondWithdrawalRequested(msg.sender, 0, 0);
            return;
        }
        uint256 bond = bondOf[msg.sender];
        if (amount > bond) revert BondBelowRequirement(csETH.convertToEth(bond), csETH.convertToEth(amount), 0);
        uint64 last = _lastRewardsReport();
        withdrawalRequestOf[msg.sender] = WithdrawalRequest({amount: amount, afterReport: last});
        emit BondWithdrawalRequested(msg.sender, amount, last);
    }

    /// Withdraws the caller's requested csETH. What stays must be worth its requirement plus
    /// any penalty certified and not yet paid (its debt).
    function withdrawBond() external returns (uint256 amount) {
        WithdrawalRequest memory request = withdrawalRequestOf[msg.sender];
        amount = request.amount;
        if (amount == 0) revert NoWithdrawalRequest(msg.sender);
        INodeManagerView manager = _manager();
        uint64 last = manager.lastReportNumber(0);
        if (last <= request.afterReport) revert WithdrawalTooEarly(request.afterReport, last);
        uint64 settled = manager.settledReport(msg.sender);
        if (settled != last) revert LatestReportNotClaimed(msg.sender, settled, last);

        uint256 bond = bondOf[msg.sender];
        uint256 required = bondRequirementOf[msg.sender] + manager.bondDebtOf(msg.sender);
        uint256 value = csETH.convertToEth(bond);
        uint256 amountValue = csETH.convertToEth(amount);
        if (amount > bond || value - amountValue < required) revert BondBelowRequirement(value, amountValue, required);
        delete withdrawalRequestOf[msg.sender];
        bond -= amount;
        bondOf[msg.sender] = bond;
        csETH.safeTransfer(msg.sender, amount);
        emit BondWithdrawn(msg.sender, amount, bond);
    }

    /// Asks the protocol to exit one of the caller's validators (its node is in the validator's
    /// cluster). The next exits reports serve open requests in order, fast-tracked ones first,
    /// and give each an exit slot (docs/exits.md); the nodes keep running until the exit is
    /// made on the beacon chain.
    function requestVoluntaryExit(bytes calldata pubkey, bool fastTrack) external returns (uint256 validatorId) {
        bytes32 pubkeyHash = keccak256(pubkey);
        validatorId = _validatorId(pubkeyHash);
        Validator storage v = _validators[validatorId - 1];
        if (!_runsValidator(msg.sender, v)) revert NotValidatorOperator(msg.sender, validatorId);
        if (v.status != ValidatorStatus.Active) revert WrongValidatorStatus(validatorId, v.status);
        v.status = ValidatorStatus.VoluntaryExitRequested;
        emit VoluntaryExitRequested(validatorId, pubkeyHash, msg.sender, fastTrack);
    }

    // ----------------------------------------------------------------------------------------
    // NodeManager (quorum-signed reports)
    // ----------------------------------------------------------------------------------------

    /// Takes csETH worth up to `amount` ETH wei from `operator`'s bond to the treasury; returns
    /// the ETH value taken (`amount` when the bond covers it, else the whole bond's value).
    function slashBond(address operator, uint256 amount) external onlyNodeManager returns (uint256 slashed) {
        uint256 bond = bondOf[operator];
        uint256 need = csETH.convertToCsEthUp(amount);
        uint256 taken;
        if (need <= bond) {
            (taken, slashed) = (need, amount);
        } else {
            (taken, slashed) = (bond, csETH.convertToEth(bond));
        }
        bond -= taken;
        bondOf[operator] = bond;
        if (taken != 0) IERC20(csETH).safeTransfer(treasury, taken);
        emit BondSlashed(operator, amount, slashed, taken, bond);
    }

    /// Sets `operator`'s bond requirement from its leaf of rewards report `reportNumber`, plus
    /// the increments of its nodes added while report `reportNumber - 1` or a later one was the
    /// latest: the report may have been computed before they existed.
    function setBondRequirement(address operator, uint256 requirement, uint64 reportNumber) external onlyNodeManager {
        uint256 operatorId = operatorIdOf[operator];
        if (operatorId != 0) {
            uint256[] storage ids = _nodesOf[operatorId];
            for (uint256 i = ids.length; i > 0; i--) {
                uint256 nodeId = ids[i - 1];
                if (_nodeAddedAfterReport[nodeId] + 1 < reportNumber) break;
                requirement += _nodeBondIncrement[nodeId];
            }
        }
        if (bondRequirementOf[operator] == requirement) return;
        bondRequirementOf[operator] = requirement;
        emit BondRequirementSet(operator, requirement);
    }

    /// Publishes one exit of exits report `reportNumber` (the NodeManager checked its proof
    /// against the latest exits root): validator `validatorIndex` (beacon index), run by
    /// `operator`, must exit by `exitByEpoch`, which must still be ahead. A requested exit
    /// (kind 0) is for an active validator, or supersedes an open voluntary request; a
    /// voluntary one (kind 1) gives an open request its slot.
    function markExit(uint64 validatorIndex, address operator, uint8 kind, uint64 exitByEpoch, uint64 reportNumber)
        external
        onlyNodeManager
    {
        if (kind > EXIT_VOLUNTARY) revert UnknownExitKind(kind);
        uint256 validatorId = validatorIdOfIndex[validatorIndex];
        if (validatorId == 0) revert UnknownValidatorIndex(validatorIndex);
        Validator storage v = _validators[validatorId - 1];
        if (!_runsValidator(operator, v)) revert NotValidatorOperator(operator, validatorId);
        uint64 epoch = currentEpoch();
        if (epoch >= exitByEpoch) revert ExitDeadlinePassed(validatorIndex, exitByEpoch, epoch);
        ValidatorStatus status = v.status;
        if (kind == EXIT_REQUESTED) {
            if (status != ValidatorStatus.Active && status != ValidatorStatus.VoluntaryExitRequested) {
                revert WrongValidatorStatus(validatorId, status);
            }
            v.status = ValidatorStatus.ExitRequested;
        } else if (status != ValidatorStatus.VoluntaryExitRequested || v.exitEpoch != 0) {
            revert WrongValidatorStatus(validatorId, status);
        }
        v.exitEpoch = exitByEpoch;
        emit ExitRequested(validatorId, validatorIndex, operator, kind, exitByEpoch, reportNumber);
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

    /// The beacon chain index recorded for a validator (`known` false while none is).
    function beaconIndexOf(uint256 validatorId) external view returns (bool known, uint64 index) {
        uint64 plusOne = _beaconIndexPlusOne[validatorId];
        return (plusOne != 0, plusOne == 0 ? 0 : plusOne - 1);
    }

    /// ETH wei the operator's bond is worth at csETH's current rate.
    function bondValueOf(address operator) external view returns (uint256) {
        return csETH.convertToEth(bondOf[operator]);
    }

    /// csETH above the operator's requirement and debt: what a withdrawal could take once due.
    function withdrawableBond(address operator) external view returns (uint256) {
        uint256 bond = bondOf[operator];
        uint256 required = bondRequirementOf[operator];
        if (nodeManager != address(0)) required += INodeManagerView(nodeManager).bondDebtOf(operator);
        uint256 keep = csETH.convertToCsEthUp(required);
        return bond > keep ? bond - keep : 0;
    }

    // ----------------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------------

    function _credit(uint256 amount) private {
        uint256 bond = bondOf[msg.sender] + amount;
        bondOf[msg.sender] = bond;
        emit BondDeposited(msg.sender, amount, bond);
    }

    function _manager() private view returns (INodeManagerView) {
        if (nodeManager == address(0)) revert NoNodeManager();
        return INodeManagerView(nodeManager);
    }

    /// The latest accepted rewards report (0 before any, or before a NodeManager is set).
    function _lastRewardsReport() private view returns (uint64) {
        return nodeManager == address(0) ? 0 : INodeManagerView(nodeManager).lastReportNumber(0);
    }

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
