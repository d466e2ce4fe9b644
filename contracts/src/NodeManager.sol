// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {BLS} from "./BLS.sol";
import {OperatorRegistry} from "./OperatorRegistry.sol";

/// @title ClayStack Node Manager: accepts the oracle committee's reports and pays claims.
/// @notice A report (rewards, kind 0, or exits, kind 1) is accepted when a quorum of the
/// committee signed its signing root (docs/signing.md) with BLS: one transaction carries the
/// root, the signer bitmap and one aggregate signature, verified here with the EIP-2537
/// precompiles. Reports of a kind are numbered 1, 2, 3... and accepted strictly in order.
/// Operators (or anyone for them) then claim their cumulative rewards with a Merkle proof
/// against the latest rewards root. Each exit of the latest exits report is published once,
/// by anyone with its proof, while its deadline is ahead: the registry records it and emits
/// `ExitRequested` with the deadline.
/// Anyone may submit a report: the signatures, not the sender, carry the authority.
/// @dev # Committee
/// The committee's size is fixed at deployment. The deployer registers the members' keys,
/// each with its proof of possession (no rogue keys), in one or more `registerMembers`
/// transactions: a proof costs ~0.24M gas, so 128 members do not fit one transaction under
/// EIP-7825's 16,777,216-gas cap. The committee (version 0) is sealed when the last member is
/// registered; no report is accepted before. Sealing writes the keys, their aggregate and the
/// threshold into the code of one data contract (a key store), so verifying a report reads one
/// storage slot (the latest version: its key store's address and where it applies from) and no
/// key from storage: the signers' key is the aggregate minus the non-signers' keys (a threshold
/// is a strict majority, so there are always fewer non-signers than signers).
/// # Committee changes
/// The owner (governance; the deployer until it hands ownership over, in two steps) schedules a
/// new committee version with `scheduleCommitteeChange`: member i replaced by a new key (with its
/// proof of possession, checked as at registration) and/or a new strict-majority threshold,
/// applying from rewards report `fromRewards` and exits round `fromExits` on. A report of a kind
/// is verified against the latest version whose `from` of that kind is at most its number, so a
/// version applies to a contiguous range of numbers. Both `from`s must be past the next number
/// of their kind (`last + 1`: a report the committee may already be signing is never moved to
/// another committee) and past the previous version's (docs/committee.md).
/// # Claims
/// A claim only does accounting: it credits the operator's rewards, slashes its bond penalty
/// and sets its bond requirement. ETH leaves only through `withdraw`, which the operator calls
/// and names the recipient of; a recipient that refuses ETH, or a NodeManager short of ETH,
/// fails that withdrawal alone and never undoes a slash (pull payments).
contract NodeManager is Ownable2Step {
    /// docs/signing.md: keccak256("claystack-oracle/report-signature/v1").
    bytes32 public constant REPORT_DOMAIN = keccak256("claystack-oracle/report-signature/v1");
    uint8 public constant KIND_REWARDS = 0;
    uint8 public constant KIND_EXITS = 1;
    /// The keys of 128 members and their aggregate fit one data contract (16,513 bytes of the
    /// 24,576 EIP-170 allows); registered in batches, they fit EIP-7825's transaction cap.
    uint256 public constant MAX_COMMITTEE_SIZE = 128;
    /// `scheduleCommitteeChange`'s `member` for a change that replaces no member.
    uint256 public constant NO_MEMBER = type(uint256).max;

    /// A member replacement: member `index` (`NO_MEMBER`: nobody is replaced, the rest is
    /// ignored) gets `publicKey` (uncompressed EIP-2537 G1), `compressedKey` (48 bytes: what
    /// `proof`, an EIP-2537 G2 proof of possession, signs) and is reached on the committee's
    /// gossip network at libp2p peer id `peerId` (recorded in the event only; nodes read it there).
    struct NewMember {
        uint256 index;
        bytes publicKey;
        bytes compressedKey;
        bytes proof;
        string peerId;
    }

    /// One committee version: its key store, and the first report number of each kind it
    /// verifies (version 0: 0 and 0).
    struct CommitteeVersion {
        address keyStore;
        uint48 fromRewards;
        uint48 fromExits;
    }

    OperatorRegistry public immutable registry;
    /// The account that deployed this NodeManager: the only one that registers members.
    address public immutable registrar;
    uint256 private immutable _committeeSize;
    uint256 private immutable _threshold;

    // The report counter is slot 2, after Ownable2Step's two (the gas test writes it directly).
    mapping(uint8 kind => uint64 number) internal _lastNumber;
    mapping(uint8 kind => mapping(uint64 number => bytes32 root)) internal _roots;
    /// Cumulative rewards accounted to each operator: credited to its balance or netted
    /// against a penalty its bond could not pay.
    mapping(address operator => uint256 amount) public claimedRewards;
    /// Cumulative bond penalty settled for each operator: slashed from its bond or netted
    /// against its rewards. What the latest claimed leaf certifies beyond this is its debt.
    mapping(address operator => uint256 amount) public appliedBondPenalty;
    /// The cumulative bond penalty of each operator's latest claimed leaf.
    mapping(address operator => uint256 amount) public certifiedBondPenalty;
    /// The rewards report each operator's leaf was last claimed from (0: never).
    mapping(address operator => uint64 number) public settledReport;
    /// ETH credited to each operator and not yet withdrawn.
    mapping(address operator => uint256 amount) public balanceOf;
    /// Sum of `balanceOf`: what this contract owes.
    uint256 public totalCredited;

    /// The latest committee version (a copy of the last entry of `_versions`, so that a report
    /// reads one slot); its key store is a data contract whose code is 0x00 (STOP), the aggregate
    /// key (128 bytes), the members' keys (128 bytes each), then the threshold (a 32-byte word).
    /// Zero until the committee is sealed.
    CommitteeVersion private _latest;
    /// Members registered so far.
    uint256 public registeredMembers;
    /// Data contracts of the batches registered before the last (0x00 then their keys).
    address[] private _batches;
    /// The sum of the keys registered so far (EIP-2537 G1, four words).
    uint256[4] private _pendingAggregate;
    /// keccak256(compressed key) => member index + 1 (duplicate keys across batches).
    mapping(bytes32 keyHash => uint256 indexPlusOne) private _memberOf;
    /// Exits leaf hash => the exits report it was published from (0: not published).
    mapping(bytes32 leaf => uint64 number) public exitPublishedIn;
    /// Every committee version, by version number (0: the sealed committee).
    CommitteeVersion[] private _versions;

    event CommitteeMember(uint256 indexed index, bytes compressedPublicKey);
    event CommitteeSealed(uint256 size, address keyStore);
    /// Committee version `version` verifies rewards reports from `fromRewards` and exits rounds
    /// from `fromExits` on: member `member` (`NO_MEMBER`: none) has the key `compressedPublicKey`
    /// and the libp2p peer id `peerId` from then, and reports need `threshold` signers.
    event CommitteeChangeScheduled(
        uint256 indexed version,
        uint64 fromRewards,
        uint64 fromExits,
        uint256 member,
        bytes compressedPublicKey,
        string peerId,
        uint256 threshold,
        address keyStore
    );
    event ReportAccepted(
        uint8 indexed kind,
        uint64 indexed number,
        bytes32 root,
        bytes32 reportHash,
        uint256 signerBitmap,
        address submitter
    );
    /// What one claim did: `credited` ETH to the operator's balance, `slashed` wei of penalty
    /// taken from its bond (what the bond could pay, valued in ETH), `netted` wei of penalty
    /// taken from its rewards instead, `debt` the certified penalty still unpaid.
    event Claimed(
        address indexed operator,
        uint64 indexed reportNumber,
        uint256 credited,
        uint256 cumulativeRewards,
        uint256 slashed,
        uint256 netted,
        uint256 debt,
        uint256 bondRequirement
    );
    event Withdrawn(address indexed operator, address indexed to, uint256 amount);
    event Funded(address indexed from, uint256 amount);

    // Construction and registration
    error CommitteeSizeOutOfRange(uint256 size);
    error CommitteeLengthMismatch(uint256 publicKeys, uint256 compressedKeys, uint256 proofs);
    error ThresholdNotMajority(uint256 threshold, uint256 size);
    error NotRegistrar(address caller);
    error CommitteeAlreadySealed();
    error CommitteeNotSealed(uint256 registered, uint256 size);
    error TooManyMembers(uint256 registered, uint256 adding, uint256 size);
    error InvalidPublicKey(uint256 member);
    error PublicKeyMismatch(uint256 member);
    error InvalidProofOfPossession(uint256 member);
    error DuplicatePublicKey(uint256 first, uint256 second);
    error KeyStoreDeploymentFailed();
    // Committee changes
    error NoSuchMember(uint256 member, uint256 size);
    error ChangeTooEarly(uint8 kind, uint64 from, uint64 earliest);
    error RenounceDisabled();
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
    // Claims, withdrawals and exits
    error NoReport(uint8 kind, uint64 number);
    error InvalidProof();
    error ZeroAmount();
    error ZeroRecipient();
    error AmountAboveBalance(address operator, uint256 balance, uint256 amount);
    error InsufficientFunds(uint256 balance, uint256 amount);
    error PaymentFailed(address to, uint256 amount);
    error NotLatestExitsReport(uint64 number, uint64 latest);
    error ExitAlreadyPublished(uint64 validatorIndex, uint64 publishedIn);

    /// @param registry_ the operator registry this manager updates.
    /// @param committeeSize_ members the committee has; `registerMembers` adds their keys.
    /// @param threshold_ signatures a report needs: a strict majority of the members.
    /// The deployer is the registrar and the first owner (governance).
    constructor(OperatorRegistry registry_, uint256 committeeSize_, uint256 threshold_) Ownable(msg.sender) {
        if (committeeSize_ == 0 || committeeSize_ > MAX_COMMITTEE_SIZE) revert CommitteeSizeOutOfRange(committeeSize_);
        if (threshold_ <= committeeSize_ / 2 || threshold_ > committeeSize_) {
            revert ThresholdNotMajority(threshold_, committeeSize_);
        }
        registry = registry_;
        registrar = msg.sender;
        _committeeSize = committeeSize_;
        _threshold = threshold_;
    }

    /// Registers the next `publicKeys.length` members (in member order), each checked with its
    /// proof of possession; the batch that completes the committee seals it. Registrar only.
    /// @param publicKeys members' G1 keys, uncompressed EIP-2537 (128 bytes).
    /// @param compressedKeys the same keys compressed (48 bytes): what proofs of possession sign.
    /// @param proofs proofs of possession, uncompressed EIP-2537 G2 (256 bytes).
    function registerMembers(bytes[] calldata publicKeys, bytes[] calldata compressedKeys, bytes[] calldata proofs)
        external
    {
        if (msg.sender != registrar) revert NotRegistrar(msg.sender);
        if (_latest.keyStore != address(0)) revert CommitteeAlreadySealed();
        uint256 k = publicKeys.length;
        if (compressedKeys.length != k || proofs.length != k) {
            revert CommitteeLengthMismatch(k, compressedKeys.length, proofs.length);
        }
        uint256 first = registeredMembers;
        uint256 n = _committeeSize;
        if (k == 0 || first + k > n) revert TooManyMembers(first, k, n);

        // 0x00 (STOP) then this batch's keys.
        bytes memory keys = new bytes(1 + k * BLS.G1_POINT_LENGTH);
        // [sum of the keys so far | the key just registered]
        bytes memory aggregate = bytes.concat(abi.encode(_pendingAggregate), new bytes(BLS.G1_POINT_LENGTH));
        for (uint256 i = 0; i < k; i++) {
            _registerMember(first + i, publicKeys[i], compressedKeys[i], proofs[i], aggregate);
            assembly ("memory-safe") {
                mcopy(add(add(keys, 33), mul(i, 128)), add(aggregate, 160), 128)
            }
        }
        registeredMembers = first + k;
        assembly ("memory-safe") {
            mstore(aggregate, 128) // keep the sum, drop the last key
        }
        if (first + k < n) {
            _pendingAggregate = abi.decode(aggregate, (uint256[4]));
            _batches.push(_deployData(keys));
            return;
        }
        _seal(aggregate, keys, k);
    }

    /// Checks member `member`'s key and proof of possession, and adds the key to `aggregate`.
    /// `aggregate` is 256 bytes: the sum so far, then (on return) the member's key.
    function _registerMember(
        uint256 member,
        bytes calldata publicKey,
        bytes calldata compressed,
        bytes calldata proof,
        bytes memory aggregate
    ) private {
        bytes memory key = publicKey;
        if (key.length != BLS.G1_POINT_LENGTH || BLS.isZero(key)) revert InvalidPublicKey(member);
        if (!BLS.isCompressedOf(compressed, key)) revert PublicKeyMismatch(member);
        bytes32 keyHash = keccak256(compressed);
        uint256 seen = _memberOf[keyHash];
        if (seen != 0) revert DuplicatePublicKey(seen - 1, member);
        _memberOf[keyHash] = member + 1;
        // The pairing also rejects a key off the curve or outside the G1 subgroup. Memory the
        // check allocates is released after it (it returns a bool), so a batch does not pay
        // for its size times the memory.
        uint256 freeMemory = _freeMemoryPointer();
        if (!BLS.verifyWithDst(key, compressed, proof, BLS.POP_DST)) revert InvalidProofOfPossession(member);
        if (member == 0) {
            assembly ("memory-safe") {
                mcopy(add(aggregate, 32), add(key, 32), 128)
                mcopy(add(aggregate, 160), add(key, 32), 128)
            }
        } else {
            assembly ("memory-safe") {
                mcopy(add(aggregate, 160), add(key, 32), 128)
            }
            BLS.g1AddPairInPlace(aggregate); // the sum over the first half; the key stays
        }
        _setFreeMemoryPointer(freeMemory);
        emit CommitteeMember(member, compressed);
    }

    /// Writes 0x00, the aggregate and every member's key into one data contract.
    function _seal(bytes memory aggregate, bytes memory lastKeys, uint256 lastCount) private {
        // Distinct keys with proofs of possession can still sum to the identity only if their
        // owners colluded; an identity aggregate would make the empty signature valid.
        if (BLS.isZero(aggregate)) revert InvalidPublicKey(_committeeSize - 1);
        uint256 n = _committeeSize;
        bytes memory store = new bytes(1 + BLS.G1_POINT_LENGTH + n * BLS.G1_POINT_LENGTH + 32);
        uint256 offset = 1 + BLS.G1_POINT_LENGTH; // bytes of `store` written so far
        assembly ("memory-safe") {
            mcopy(add(store, 33), add(aggregate, 32), 128)
        }
        for (uint256 b = 0; b < _batches.length; b++) {
            address batch = _batches[b];
            uint256 size = batch.code.length - 1;
            assembly ("memory-safe") {
                extcodecopy(batch, add(add(store, 32), offset), 1, size)
            }
            offset += size;
        }
        uint256 lastSize = lastCount * BLS.G1_POINT_LENGTH;
        assembly ("memory-safe") {
            mcopy(add(add(store, 32), offset), add(lastKeys, 33), lastSize)
        }
        uint256 t = _threshold;
        assembly ("memory-safe") {
            mstore(add(add(store, 32), add(offset, lastSize)), t)
        }
        address keyStore = _deployData(store);
        _pushVersion(CommitteeVersion(keyStore, 0, 0));
        delete _pendingAggregate;
        emit CommitteeSealed(n, keyStore);
    }

    /// The protocol funds rewards by sending ETH here.
    receive() external payable {
        emit Funded(msg.sender, msg.value);
    }

    // ----------------------------------------------------------------------------------------
    // Committee changes
    // ----------------------------------------------------------------------------------------

    /// Schedules committee version `committeeVersions()`: reports need `newThreshold` signers (a
    /// strict majority), and `member.index` (unless `NO_MEMBER`) gets a new key, its proof of
    /// possession checked as at registration, for rewards reports numbered `fromRewards` and
    /// exits rounds numbered `fromExits` on. Each `from` must be past its kind's next number
    /// (`last + 1`) and past the previous version's. A key that was ever a member's cannot be
    /// registered again. Owner only.
    function scheduleCommitteeChange(
        uint64 fromRewards,
        uint64 fromExits,
        uint256 newThreshold,
        NewMember calldata member
    ) external onlyOwner {
        address previous = _checkSchedule(fromRewards, fromExits, newThreshold);
        uint256 index = member.index;
        if (index != NO_MEMBER) {
            if (index >= _committeeSize) revert NoSuchMember(index, _committeeSize);
            _checkNewKey(index, member.publicKey, member.compressedKey, member.proof);
        }
        address keyStore = _nextKeyStore(previous, index, member.publicKey, newThreshold);
        uint256 version = _versions.length;
        _pushVersion(CommitteeVersion(keyStore, uint48(fromRewards), uint48(fromExits)));
        emit CommitteeChangeScheduled(
            version,
            fromRewards,
            fromExits,
            index,
            index == NO_MEMBER ? bytes("") : member.compressedKey,
            index == NO_MEMBER ? "" : member.peerId,
            newThreshold,
            keyStore
        );
    }

    /// Checks a change's numbers and threshold; returns the latest version's key store.
    function _checkSchedule(uint64 fromRewards, uint64 fromExits, uint256 newThreshold)
        private
        view
        returns (address previous)
    {
        CommitteeVersion memory last = _latest;
        if (last.keyStore == address(0)) revert CommitteeNotSealed(registeredMembers, _committeeSize);
        uint256 n = _committeeSize;
        if (newThreshold <= n / 2 || newThreshold > n) revert ThresholdNotMajority(newThreshold, n);
        _checkFrom(KIND_REWARDS, fromRewards, last.fromRewards);
        _checkFrom(KIND_EXITS, fromExits, last.fromExits);
        return last.keyStore;
    }

    /// Deploys the previous key store's content with member `member`'s key (and so the
    /// aggregate) replaced by `key` (checked), unless it is `NO_MEMBER`, and the threshold
    /// `newThreshold`.
    function _nextKeyStore(address previous, uint256 member, bytes memory key, uint256 newThreshold)
        private
        returns (address)
    {
        uint256 n = _committeeSize;
        bytes memory store = previous.code;
        if (member != NO_MEMBER) {
            bytes memory oldKey = new bytes(BLS.G1_POINT_LENGTH);
            _copyMemberKey(previous, oldKey, 0, member);
            assembly ("memory-safe") {
                mcopy(add(add(store, 32), add(129, mul(member, 128))), add(key, 32), 128)
            }
            bytes memory aggregate = BLS.g1Add(BLS.g1Add(_aggregateKey(previous), BLS.g1Negate(oldKey)), key);
            // As at sealing: an identity aggregate would make the empty signature valid.
            if (BLS.isZero(aggregate)) revert InvalidPublicKey(member);
            assembly ("memory-safe") {
                mcopy(add(store, 33), add(aggregate, 32), 128)
            }
        }
        assembly ("memory-safe") {
            mstore(add(add(store, 32), add(129, mul(n, 128))), newThreshold)
        }
        return _deployData(store);
    }

    /// A new version's first number of `kind` must be past the next report of that kind (one
    /// the committee may already be signing) and past the previous version's.
    function _checkFrom(uint8 kind, uint64 from, uint48 previousFrom) private view {
        uint64 earliest = _lastNumber[kind] + 2;
        if (uint64(previousFrom) + 1 > earliest) earliest = uint64(previousFrom) + 1;
        if (from < earliest || from > type(uint48).max) revert ChangeTooEarly(kind, from, earliest);
    }

    /// A replacement key: a valid G1 key never registered before, with its proof of possession.
    function _checkNewKey(uint256 member, bytes calldata publicKey, bytes calldata compressed, bytes calldata proof)
        private
    {
        if (publicKey.length != BLS.G1_POINT_LENGTH || BLS.isZero(publicKey)) revert InvalidPublicKey(member);
        if (!BLS.isCompressedOf(compressed, publicKey)) revert PublicKeyMismatch(member);
        bytes32 keyHash = keccak256(compressed);
        uint256 seen = _memberOf[keyHash];
        if (seen != 0) revert DuplicatePublicKey(seen - 1, member);
        _memberOf[keyHash] = member + 1;
        if (!BLS.verifyWithDst(publicKey, compressed, proof, BLS.POP_DST)) revert InvalidProofOfPossession(member);
    }

    function _pushVersion(CommitteeVersion memory v) private {
        _versions.push(v);
        _latest = v;
    }

    /// Disabled: without an owner the committee could never change again.
    function renounceOwnership() public view override onlyOwner {
        revert RenounceDisabled();
    }

    // ----------------------------------------------------------------------------------------
    // Reports
    // ----------------------------------------------------------------------------------------

    /// Accepts report `number` of `kind` when the members in `signerBitmap` (bit i = member i of
    /// the committee version for this kind and number, `committeeFor`) are at least its
    /// threshold and `aggregateSignature` (EIP-2537 G2, 256 bytes) is their aggregate signature
    /// of `signingRoot(kind, number, root, reportHash)`. Rewards reports must
    /// come in order (`number == last + 1`); exits reports only with a higher number (a round
    /// with nothing to exit is never submitted).
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
        _checkNumber(kind, number);
        address keyStore = _keyStoreFor(kind, number);
        uint256 n = _committeeSize;
        if (n < 256 && signerBitmap >> n != 0) revert SignerOutsideCommittee(signerBitmap, n);
        uint256 nonSigners = ~signerBitmap & _fullMask(n);
        uint256 signers = n - _popcount(nonSigners);
        uint256 t = _thresholdOf(keyStore);
        if (signers < t) revert NotEnoughSigners(signers, t);
        if (aggregateSignature.length != BLS.G2_POINT_LENGTH) revert InvalidSignatureLength(aggregateSignature.length);

        bytes memory message = abi.encodePacked(signingRoot(kind, number, root, reportHash));
        if (!BLS.verify(_signersKey(keyStore, nonSigners), message, aggregateSignature)) revert InvalidSignature();

        _lastNumber[kind] = number;
        _roots[kind][number] = root;
        emit ReportAccepted(kind, number, root, reportHash, signerBitmap, msg.sender);
    }

    /// Rewards reports come one per frame, in order. An exits round with nothing to exit is
    /// not submitted, so exits report numbers (their rounds) only have to increase.
    function _checkNumber(uint8 kind, uint64 number) private view {
        uint64 last = _lastNumber[kind];
        bool inOrder = kind == KIND_EXITS ? number > last : number == last + 1;
        if (inOrder) return;
        if (number == last && last != 0) revert ReportAlreadyAccepted(kind, number);
        if (number <= last) revert StaleReport(kind, number, last);
        revert ReportOutOfOrder(kind, number, last + 1);
    }

    /// The 32 bytes the committee signs (docs/signing.md), bound to this chain and contract.
    function signingRoot(uint8 kind, uint64 number, bytes32 root, bytes32 reportHash) public view returns (bytes32) {
        return keccak256(abi.encode(REPORT_DOMAIN, block.chainid, address(this), kind, number, root, reportHash));
    }

    // ----------------------------------------------------------------------------------------
    // Claims
    // ----------------------------------------------------------------------------------------

    /// Applies `operator`'s leaf of the latest rewards report: credits what its cumulative
    /// rewards add to what was accounted before, settles the part of its cumulative bond
    /// penalty not yet settled (from its bond first, what the bond cannot pay from these and
    /// later rewards: a debt), and sets its bond requirement. Anyone may call it; it moves no
    /// ETH (the operator withdraws its balance with `withdraw`). Claiming again changes nothing.
    /// Leaf: keccak256(bytes.concat(keccak256(abi.encode(operator, cumulativeRewards,
    /// cumulativeBondPenalty, bondRequirement)))) — StandardMerkleTree
    /// ["address","uint256","uint256","uint256"].
    /// @return credited ETH added to the operator's balance by this claim.
    function claim(
        address operator,
        uint256 cumulativeRewards,
        uint256 cumulativeBondPenalty,
        uint256 bondRequirement,
        bytes32[] calldata proof
    ) external returns (uint256 credited) {
        uint64 number = _lastNumber[KIND_REWARDS];
        if (number == 0) revert NoReport(KIND_REWARDS, 0);
        {
            bytes32 leaf = keccak256(
                bytes.concat(keccak256(abi.encode(operator, cumulativeRewards, cumulativeBondPenalty, bondRequirement)))
            );
            if (!MerkleProof.verifyCalldata(proof, _roots[KIND_REWARDS][number], leaf)) revert InvalidProof();
        }
        Settlement memory st = _settle(operator, cumulativeRewards, cumulativeBondPenalty);
        settledReport[operator] = number;
        registry.setBondRequirement(operator, bondRequirement, number);
        emit Claimed(operator, number, st.credited, cumulativeRewards, st.slashed, st.netted, st.debt, bondRequirement);
        return st.credited;
    }

    /// What one claim did (see the `Claimed` event).
    struct Settlement {
        uint256 credited;
        uint256 slashed;
        uint256 netted;
        uint256 debt;
    }

    /// The accounting of a claim: rewards not yet accounted are credited, less the part of the
    /// penalty not yet settled that the bond cannot pay.
    function _settle(address operator, uint256 cumulativeRewards, uint256 cumulativeBondPenalty)
        private
        returns (Settlement memory st)
    {
        uint256 claimed = claimedRewards[operator];
        uint256 rewards = cumulativeRewards > claimed ? cumulativeRewards - claimed : 0;
        uint256 applied = appliedBondPenalty[operator];
        uint256 due = cumulativeBondPenalty > applied ? cumulativeBondPenalty - applied : 0;
        st.slashed = due != 0 ? registry.slashBond(operator, due) : 0;
        st.netted = Math.min(due - st.slashed, rewards);
        st.credited = rewards - st.netted;
        st.debt = due - st.slashed - st.netted;

        if (rewards != 0) claimedRewards[operator] = cumulativeRewards;
        if (st.slashed + st.netted != 0) appliedBondPenalty[operator] = applied + st.slashed + st.netted;
        if (cumulativeBondPenalty > certifiedBondPenalty[operator]) {
            certifiedBondPenalty[operator] = cumulativeBondPenalty;
        }
        if (st.credited != 0) {
            balanceOf[operator] += st.credited;
            totalCredited += st.credited;
        }
    }

    /// Pays `amount` of the caller's credited balance to `to` (an operator that is a contract
    /// may name another account). Fails, changing nothing, when `to` refuses the ETH or this
    /// contract holds less than `amount`; the credit stays for a later withdrawal.
    function withdraw(address payable to, uint256 amount) external {
        if (to == address(0)) revert ZeroRecipient();
        if (amount == 0) revert ZeroAmount();
        uint256 balance = balanceOf[msg.sender];
        if (amount > balance) revert AmountAboveBalance(msg.sender, balance, amount);
        if (address(this).balance < amount) revert InsufficientFunds(address(this).balance, amount);
        balanceOf[msg.sender] = balance - amount;
        totalCredited -= amount;
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert PaymentFailed(to, amount);
        emit Withdrawn(msg.sender, to, amount);
    }

    /// Certified bond penalty of `operator` not yet settled: taken from its future rewards,
    /// and it keeps that much of its bond from being withdrawn.
    function bondDebtOf(address operator) external view returns (uint256) {
        return certifiedBondPenalty[operator] - appliedBondPenalty[operator];
    }

    // ----------------------------------------------------------------------------------------
    // Exits
    // ----------------------------------------------------------------------------------------

    /// Publishes one exit of exits report `number`, which must be the latest accepted one: the
    /// registry checks that `operator` runs the validator and that `exitByEpoch` is still
    /// ahead, records the deadline and emits `ExitRequested`. Each leaf is published once.
    /// Anyone may call it (the proof carries the authority); the node's submitter publishes
    /// every leaf after the report is accepted.
    /// Leaf: keccak256(bytes.concat(keccak256(abi.encode(validatorIndex, operator, kind,
    /// exitByEpoch)))) — StandardMerkleTree ["uint64","address","uint8","uint64"]
    /// (crates/exits EXITS_LEAF_ENCODING; kind 0 requested, 1 voluntary).
    function publishExit(
        uint64 number,
        uint64 validatorIndex,
        address operator,
        uint8 kind,
        uint64 exitByEpoch,
        bytes32[] calldata proof
    ) external {
        uint64 latest = _lastNumber[KIND_EXITS];
        if (latest == 0) revert NoReport(KIND_EXITS, number);
        // An older report's exits were either published while it was the latest or are
        // replaced by the newer report's view of who must exit.
        if (number != latest) revert NotLatestExitsReport(number, latest);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(validatorIndex, operator, kind, exitByEpoch))));
        if (!MerkleProof.verifyCalldata(proof, _roots[KIND_EXITS][latest], leaf)) revert InvalidProof();
        // Keyed by the leaf, not the report: the same exit listed again later is still one exit.
        uint64 publishedIn = exitPublishedIn[leaf];
        if (publishedIn != 0) revert ExitAlreadyPublished(validatorIndex, publishedIn);
        exitPublishedIn[leaf] = latest;
        registry.markExit(validatorIndex, operator, kind, exitByEpoch, latest);
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

    /// The threshold of the latest committee version (before sealing: version 0's).
    function threshold() external view returns (uint256) {
        address keyStore = _latest.keyStore;
        return keyStore == address(0) ? _threshold : _thresholdOf(keyStore);
    }

    /// True once every member is registered: reports are accepted from then on.
    function isSealed() external view returns (bool) {
        return _latest.keyStore != address(0);
    }

    /// Committee versions scheduled so far (1 once sealed: version 0).
    function committeeVersions() external view returns (uint256) {
        return _versions.length;
    }

    /// Where committee `version` applies from, and its threshold.
    function committeeVersion(uint256 version)
        external
        view
        returns (uint64 fromRewards, uint64 fromExits, uint256 threshold_)
    {
        CommitteeVersion memory v = _versions[version];
        return (v.fromRewards, v.fromExits, _thresholdOf(v.keyStore));
    }

    /// The committee that verifies report `number` of `kind`: its version, threshold and members'
    /// keys (uncompressed EIP-2537 G1, 128 bytes each, in member order); after sealing. Final
    /// once the chain has accepted report `number - 1` of `kind` (a later change must start
    /// past it).
    function committeeFor(uint8 kind, uint64 number)
        external
        view
        returns (uint256 version, uint256 threshold_, bytes[] memory publicKeys)
    {
        if (kind > KIND_EXITS) revert UnknownReportKind(kind);
        _sealedKeyStore();
        version = _versions.length - 1;
        while (number < _from(_versions[version], kind)) version--;
        address keyStore = _versions[version].keyStore;
        threshold_ = _thresholdOf(keyStore);
        publicKeys = new bytes[](_committeeSize);
        for (uint256 i = 0; i < publicKeys.length; i++) {
            publicKeys[i] = new bytes(BLS.G1_POINT_LENGTH);
            _copyMemberKey(keyStore, publicKeys[i], 0, i);
        }
    }

    /// Member `index`'s key in the latest committee version, uncompressed EIP-2537 G1 (128
    /// bytes); after sealing.
    function memberPublicKey(uint256 index) external view returns (bytes memory key) {
        require(index < _committeeSize, "NodeManager: no such member");
        address keyStore = _sealedKeyStore();
        key = new bytes(BLS.G1_POINT_LENGTH);
        _copyMemberKey(keyStore, key, 0, index);
    }

    /// The sum of all members' keys in the latest committee version, uncompressed EIP-2537 G1
    /// (128 bytes); after sealing.
    function aggregatePublicKey() public view returns (bytes memory) {
        return _aggregateKey(_sealedKeyStore());
    }

    // ----------------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------------

    /// The sum of the signers' keys: the aggregate of all plus the negated sum of the absent.
    /// The absent keys are summed in one 256-byte buffer [sum so far | next key], so each one
    /// costs a code copy and a G1ADD, and nothing else grows with the committee.
    function _signersKey(address keyStore, uint256 nonSigners) private view returns (bytes memory) {
        bytes memory all = _aggregateKey(keyStore);
        if (nonSigners == 0) return all;
        bytes memory pair = new bytes(2 * BLS.G1_POINT_LENGTH);
        _copyMemberKey(keyStore, pair, 0, _lowestSetBit(nonSigners));
        nonSigners &= nonSigners - 1;
        while (nonSigners != 0) {
            _copyMemberKey(keyStore, pair, BLS.G1_POINT_LENGTH, _lowestSetBit(nonSigners));
            nonSigners &= nonSigners - 1;
            BLS.g1AddPairInPlace(pair);
        }
        assembly ("memory-safe") {
            mstore(pair, 128) // keep the sum, drop the second half
        }
        return BLS.g1Add(all, BLS.g1Negate(pair));
    }

    function _sealedKeyStore() private view returns (address keyStore) {
        keyStore = _latest.keyStore;
        if (keyStore == address(0)) revert CommitteeNotSealed(registeredMembers, _committeeSize);
    }

    /// The key store of the committee version that verifies report `number` of `kind`: the
    /// latest one (one slot) unless the number comes before its `from`, then an earlier one.
    function _keyStoreFor(uint8 kind, uint64 number) private view returns (address) {
        CommitteeVersion memory v = _latest;
        if (v.keyStore == address(0)) revert CommitteeNotSealed(registeredMembers, _committeeSize);
        if (number >= _from(v, kind)) return v.keyStore;
        uint256 i = _versions.length - 1;
        do {
            v = _versions[--i];
        } while (number < _from(v, kind));
        return v.keyStore;
    }

    function _from(CommitteeVersion memory v, uint8 kind) private pure returns (uint64) {
        return kind == KIND_EXITS ? v.fromExits : v.fromRewards;
    }

    /// The threshold word after the keys in a key store.
    function _thresholdOf(address keyStore) private view returns (uint256 t) {
        uint256 offset = 129 + _committeeSize * 128;
        assembly ("memory-safe") {
            extcodecopy(keyStore, 0, offset, 32)
            t := mload(0)
        }
    }

    function _aggregateKey(address keyStore) private view returns (bytes memory key) {
        key = new bytes(BLS.G1_POINT_LENGTH);
        assembly ("memory-safe") {
            extcodecopy(keyStore, add(key, 32), 1, 128)
        }
    }

    /// Copies member `index`'s key from the key store into `buffer` at byte `offset`.
    function _copyMemberKey(address keyStore, bytes memory buffer, uint256 offset, uint256 index) private view {
        assembly ("memory-safe") {
            extcodecopy(keyStore, add(add(buffer, 32), offset), add(129, mul(index, 128)), 128)
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
