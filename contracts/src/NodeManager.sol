// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {BLS} from "./BLS.sol";
import {OperatorRegistry} from "./OperatorRegistry.sol";

/// @title ClayStack Node Manager: accepts the oracle committee's reports and pays claims.
/// @notice A report (rewards, kind 0, or exits, kind 1) is accepted when a quorum of the
/// committee signed its signing root (docs/signing.md) with BLS: one transaction carries the
/// root, the signer bitmap and one aggregate signature, verified here with the EIP-2537
/// precompiles. Reports of a kind are numbered 1, 2, 3... and accepted strictly in order.
/// Operators (or anyone for them) then claim their cumulative rewards with a Merkle proof
/// against the latest rewards root; exits reports publish requested exits to the registry.
/// Anyone may submit a report: the signatures, not the sender, carry the authority.
/// @dev The committee is fixed at deployment (a new committee is a new NodeManager: the signing
/// root binds this address). Its keys are checked with proofs of possession (no rogue keys).
/// The aggregate of all keys is kept in immutables and the keys themselves in the code of a
/// data contract, so verifying a report reads no storage for keys: the signers' key is the
/// aggregate minus the non-signers' keys (a threshold is a strict majority, so there are
/// always fewer non-signers than signers).
contract NodeManager {
    /// docs/signing.md: keccak256("claystack-oracle/report-signature/v1").
    bytes32 public constant REPORT_DOMAIN = keccak256("claystack-oracle/report-signature/v1");
    uint8 public constant KIND_REWARDS = 0;
    uint8 public constant KIND_EXITS = 1;
    /// Proofs of possession are verified in the constructor (~0.16M gas each): 128 members fit
    /// a 30M-gas block with room to spare, and their keys fit one data contract.
    uint256 public constant MAX_COMMITTEE_SIZE = 128;

    OperatorRegistry public immutable registry;
    uint256 private immutable _committeeSize;
    uint256 private immutable _threshold;
    /// Data contract whose code is 0x00 (STOP) followed by the members' keys, 128 bytes each.
    address private immutable _keyStore;
    // The sum of all members' keys (EIP-2537 G1, four words).
    uint256 private immutable _aggregate0;
    uint256 private immutable _aggregate1;
    uint256 private immutable _aggregate2;
    uint256 private immutable _aggregate3;

    mapping(uint8 kind => uint64 number) internal _lastNumber;
    mapping(uint8 kind => mapping(uint64 number => bytes32 root)) internal _roots;
    /// Cumulative rewards already paid to each operator.
    mapping(address operator => uint256 amount) public claimedRewards;
    /// Cumulative bond penalty already sent to the registry for each operator.
    mapping(address operator => uint256 amount) public appliedBondPenalty;

    event CommitteeMember(uint256 indexed index, bytes compressedPublicKey);
    event ReportAccepted(
        uint8 indexed kind,
        uint64 indexed number,
        bytes32 root,
        bytes32 reportHash,
        uint256 signerBitmap,
        address submitter
    );
    event Claimed(
        address indexed operator,
        uint64 indexed reportNumber,
        uint256 amount,
        uint256 cumulativeRewards,
        uint256 bondPenalty,
        uint256 bondRequirement
    );
    event Funded(address indexed from, uint256 amount);

    // Construction
    error CommitteeSizeOutOfRange(uint256 size);
    error CommitteeLengthMismatch(uint256 publicKeys, uint256 compressedKeys, uint256 proofs);
    error ThresholdNotMajority(uint256 threshold, uint256 size);
    error InvalidPublicKey(uint256 member);
    error PublicKeyMismatch(uint256 member);
    error InvalidProofOfPossession(uint256 member);
    error DuplicatePublicKey(uint256 first, uint256 second);
    error KeyStoreDeploymentFailed();
    // Reports
    error UnknownReportKind(uint8 kind);
    error ZeroRoot();
    error StaleReport(uint8 kind, uint64 number, uint64 lastAccepted);
    error ReportAlreadyAccepted(uint8 kind, uint64 number);
    error ReportOutOfOrder(uint8 kind, uint64 number, uint64 expected);
    error SignerOutsideCommittee(uint256 signerBitmap, uint256 committeeSize);
    error NotEnoughSigners(uint256 signers, uint256 threshold);
    error InvalidSignatureLength(uint256 length);
    error InvalidSignature();
    // Claims and exits
    error NoReport(uint8 kind, uint64 number);
    error InvalidProof();
    error InsufficientFunds(uint256 balance, uint256 amount);
    error PaymentFailed(address operator, uint256 amount);

    /// @param registry_ the operator registry this manager updates.
    /// @param publicKeys members' G1 keys, uncompressed EIP-2537 (128 bytes), in member order.
    /// @param compressedKeys the same keys compressed (48 bytes): what proofs of possession sign.
    /// @param proofs proofs of possession, uncompressed EIP-2537 G2 (256 bytes).
    /// @param threshold_ signatures a report needs: a strict majority of the members.
    constructor(
        OperatorRegistry registry_,
        bytes[] memory publicKeys,
        bytes[] memory compressedKeys,
        bytes[] memory proofs,
        uint256 threshold_
    ) {
        uint256 n = publicKeys.length;
        if (n == 0 || n > MAX_COMMITTEE_SIZE) revert CommitteeSizeOutOfRange(n);
        if (compressedKeys.length != n || proofs.length != n) {
            revert CommitteeLengthMismatch(n, compressedKeys.length, proofs.length);
        }
        if (threshold_ <= n / 2 || threshold_ > n) revert ThresholdNotMajority(threshold_, n);

        bytes32[] memory seen = new bytes32[](n);
        // 0x00 (STOP) then the keys; the key store's code.
        bytes memory keys = new bytes(1 + n * BLS.G1_POINT_LENGTH);
        bytes memory aggregate = new bytes(BLS.G1_POINT_LENGTH);
        for (uint256 i = 0; i < n; i++) {
            bytes memory key = publicKeys[i];
            if (key.length != BLS.G1_POINT_LENGTH || BLS.isZero(key)) revert InvalidPublicKey(i);
            if (!BLS.isCompressedOf(compressedKeys[i], key)) revert PublicKeyMismatch(i);
            seen[i] = keccak256(compressedKeys[i]);
            for (uint256 j = 0; j < i; j++) {
                if (seen[j] == seen[i]) revert DuplicatePublicKey(j, i);
            }
            // The pairing also rejects a key off the curve or outside the G1 subgroup. Memory
            // the check allocates is released after it (it returns a bool), so 64 checks do not
            // pay for 64 times the memory.
            uint256 freeMemory = _freeMemoryPointer();
            if (!BLS.verifyWithDst(key, compressedKeys[i], proofs[i], BLS.POP_DST)) revert InvalidProofOfPossession(i);
            bytes memory sum = i == 0 ? key : BLS.g1Add(aggregate, key);
            assembly ("memory-safe") {
                mcopy(add(aggregate, 32), add(sum, 32), 128)
                mcopy(add(add(keys, 33), mul(i, 128)), add(key, 32), 128)
            }
            _setFreeMemoryPointer(freeMemory);
            emit CommitteeMember(i, compressedKeys[i]);
        }
        // Distinct keys with proofs of possession can still sum to the identity only if their
        // owners colluded; an identity aggregate would make the empty signature valid.
        if (BLS.isZero(aggregate)) revert InvalidPublicKey(n - 1);

        registry = registry_;
        _committeeSize = n;
        _threshold = threshold_;
        _keyStore = _deployData(keys);
        (uint256 a0, uint256 a1, uint256 a2, uint256 a3) = abi.decode(aggregate, (uint256, uint256, uint256, uint256));
        _aggregate0 = a0;
        _aggregate1 = a1;
        _aggregate2 = a2;
        _aggregate3 = a3;
    }

    /// The protocol funds rewards by sending ETH here.
    receive() external payable {
        emit Funded(msg.sender, msg.value);
    }

    // ----------------------------------------------------------------------------------------
    // Reports
    // ----------------------------------------------------------------------------------------

    /// Accepts report `number` of `kind` when the members in `signerBitmap` (bit i = member i)
    /// are at least the threshold and `aggregateSignature` (EIP-2537 G2, 256 bytes) is their
    /// aggregate signature of `signingRoot(kind, number, root, reportHash)`.
    function submitReport(
        uint8 kind,
        uint64 number,
        bytes32 root,
        bytes32 reportHash,
        uint256 signerBitmap,
        bytes calldata aggregateSignature
    ) external {
        if (kind > KIND_EXITS) revert UnknownReportKind(kind);
        if (root == bytes32(0)) revert ZeroRoot();
        uint64 last = _lastNumber[kind];
        if (number != last + 1) {
            if (number == last && last != 0) revert ReportAlreadyAccepted(kind, number);
            if (number <= last) revert StaleReport(kind, number, last);
            revert ReportOutOfOrder(kind, number, last + 1);
        }
        uint256 n = _committeeSize;
        if (n < 256 && signerBitmap >> n != 0) revert SignerOutsideCommittee(signerBitmap, n);
        uint256 nonSigners = ~signerBitmap & _fullMask(n);
        uint256 signers = n - _popcount(nonSigners);
        if (signers < _threshold) revert NotEnoughSigners(signers, _threshold);
        if (aggregateSignature.length != BLS.G2_POINT_LENGTH) revert InvalidSignatureLength(aggregateSignature.length);

        bytes memory message = abi.encodePacked(signingRoot(kind, number, root, reportHash));
        if (!BLS.verify(_signersKey(nonSigners), message, aggregateSignature)) revert InvalidSignature();

        _lastNumber[kind] = number;
        _roots[kind][number] = root;
        emit ReportAccepted(kind, number, root, reportHash, signerBitmap, msg.sender);
    }

    /// The 32 bytes the committee signs (docs/signing.md), bound to this chain and contract.
    function signingRoot(uint8 kind, uint64 number, bytes32 root, bytes32 reportHash) public view returns (bytes32) {
        return keccak256(abi.encode(REPORT_DOMAIN, block.chainid, address(this), kind, number, root, reportHash));
    }

    // ----------------------------------------------------------------------------------------
    // Claims
    // ----------------------------------------------------------------------------------------

    /// Pays `operator` what its leaf of the latest rewards report adds to what it was already
    /// paid, slashes the part of its cumulative bond penalty not yet applied, and sets its bond
    /// requirement. Anyone may call it; the ETH always goes to `operator`. Claiming again pays
    /// nothing more and changes nothing.
    /// Leaf: keccak256(bytes.concat(keccak256(abi.encode(operator, cumulativeRewards,
    /// cumulativeBondPenalty, bondRequirement)))) — StandardMerkleTree
    /// ["address","uint256","uint256","uint256"].
    function claim(
        address operator,
        uint256 cumulativeRewards,
        uint256 cumulativeBondPenalty,
        uint256 bondRequirement,
        bytes32[] calldata proof
    ) external returns (uint256 amount) {
        uint64 number = _lastNumber[KIND_REWARDS];
        if (number == 0) revert NoReport(KIND_REWARDS, 0);
        bytes32 leaf = keccak256(
            bytes.concat(keccak256(abi.encode(operator, cumulativeRewards, cumulativeBondPenalty, bondRequirement)))
        );
        if (!MerkleProof.verifyCalldata(proof, _roots[KIND_REWARDS][number], leaf)) revert InvalidProof();

        uint256 claimed = claimedRewards[operator];
        amount = cumulativeRewards > claimed ? cumulativeRewards - claimed : 0;
        uint256 applied = appliedBondPenalty[operator];
        uint256 penalty = cumulativeBondPenalty > applied ? cumulativeBondPenalty - applied : 0;
        if (amount != 0) claimedRewards[operator] = cumulativeRewards;
        if (penalty != 0) appliedBondPenalty[operator] = cumulativeBondPenalty;

        if (penalty != 0) registry.slashBond(operator, penalty);
        registry.setBondRequirement(operator, bondRequirement);
        if (amount != 0) {
            if (address(this).balance < amount) revert InsufficientFunds(address(this).balance, amount);
            (bool ok,) = operator.call{value: amount}("");
            if (!ok) revert PaymentFailed(operator, amount);
        }
        emit Claimed(operator, number, amount, cumulativeRewards, penalty, bondRequirement);
    }

    // ----------------------------------------------------------------------------------------
    // Exits
    // ----------------------------------------------------------------------------------------

    /// Publishes one requested exit of exits report `number` to the registry, which marks the
    /// validator and emits `ExitRequested`. Leaf: StandardMerkleTree
    /// ["address","uint64","bytes32","uint64"] = (operator, validatorIndex,
    /// keccak256(48-byte pubkey), exitByEpoch). Anyone may call it.
    function publishExitRequest(
        uint64 number,
        address operator,
        uint64 validatorIndex,
        bytes32 pubkeyHash,
        uint64 exitByEpoch,
        bytes32[] calldata proof
    ) external {
        bytes32 root = _roots[KIND_EXITS][number];
        if (root == bytes32(0)) revert NoReport(KIND_EXITS, number);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(operator, validatorIndex, pubkeyHash, exitByEpoch))));
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert InvalidProof();
        registry.markExitRequested(operator, validatorIndex, pubkeyHash, exitByEpoch, number);
    }

    // ----------------------------------------------------------------------------------------
    // Views
    // ----------------------------------------------------------------------------------------

    /// The number of the last accepted report of `kind` (0 before the first).
    function lastReportNumber(uint8 kind) external view returns (uint64) {
        return _lastNumber[kind];
    }

    /// The Merkle root of accepted report `number` of `kind` (zero if none).
    function reportRoot(uint8 kind, uint64 number) external view returns (bytes32) {
        return _roots[kind][number];
    }

    function committeeSize() external view returns (uint256) {
        return _committeeSize;
    }

    function threshold() external view returns (uint256) {
        return _threshold;
    }

    /// Member `index`'s key, uncompressed EIP-2537 G1 (128 bytes).
    function memberPublicKey(uint256 index) external view returns (bytes memory) {
        require(index < _committeeSize, "NodeManager: no such member");
        return _memberKey(index);
    }

    /// The sum of all members' keys, uncompressed EIP-2537 G1 (128 bytes).
    function aggregatePublicKey() public view returns (bytes memory) {
        return abi.encodePacked(_aggregate0, _aggregate1, _aggregate2, _aggregate3);
    }

    // ----------------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------------

    /// The sum of the signers' keys: the aggregate of all plus the negated sum of the absent.
    /// The absent keys are summed in one 256-byte buffer [sum so far | next key], so each one
    /// costs a code copy and a G1ADD, and nothing else grows with the committee.
    function _signersKey(uint256 nonSigners) private view returns (bytes memory) {
        bytes memory all = aggregatePublicKey();
        if (nonSigners == 0) return all;
        bytes memory pair = new bytes(2 * BLS.G1_POINT_LENGTH);
        _copyMemberKey(pair, 0, _lowestSetBit(nonSigners));
        nonSigners &= nonSigners - 1;
        while (nonSigners != 0) {
            _copyMemberKey(pair, BLS.G1_POINT_LENGTH, _lowestSetBit(nonSigners));
            nonSigners &= nonSigners - 1;
            BLS.g1AddPairInPlace(pair);
        }
        assembly ("memory-safe") {
            mstore(pair, 128) // keep the sum, drop the second half
        }
        return BLS.g1Add(all, BLS.g1Negate(pair));
    }

    function _memberKey(uint256 index) private view returns (bytes memory key) {
        key = new bytes(BLS.G1_POINT_LENGTH);
        _copyMemberKey(key, 0, index);
    }

    /// Copies member `index`'s key from the key store into `buffer` at byte `offset`.
    function _copyMemberKey(bytes memory buffer, uint256 offset, uint256 index) private view {
        address store = _keyStore;
        assembly ("memory-safe") {
            extcodecopy(store, add(add(buffer, 32), offset), add(1, mul(index, 128)), 128)
        }
    }

    /// The index of the lowest set bit of x (x != 0).
    function _lowestSetBit(uint256 x) private pure returns (uint256) {
        unchecked {
            return Math.log2(x & (~x + 1));
        }
    }

    /// Deploys a contract whose code is `data` (which starts with 0x00 so it cannot run).
    function _deployData(bytes memory data) private returns (address addr) {
        // Init code: PUSH2 len, DUP1, PUSH1 10, PUSH0, CODECOPY, PUSH0, RETURN; then the data.
        bytes memory init = bytes.concat(hex"61", bytes2(uint16(data.length)), hex"80600a5f395ff3", data);
        assembly ("memory-safe") {
            addr := create(0, add(init, 32), mload(init))
        }
        if (addr == address(0)) revert KeyStoreDeploymentFailed();
    }

    function _freeMemoryPointer() private pure returns (uint256 p) {
        assembly ("memory-safe") {
            p := mload(0x40)
        }
    }

    function _setFreeMemoryPointer(uint256 p) private pure {
        assembly ("memory-safe") {
            mstore(0x40, p)
        }
    }

    function _fullMask(uint256 n) private pure returns (uint256) {
        return n == 256 ? type(uint256).max : (uint256(1) << n) - 1;
    }

    function _popcount(uint256 x) private pure returns (uint256 count) {
        while (x != 0) {
            x &= x - 1;
            count++;
        }
    }
}
