// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IInvoiceToken} from "./interfaces/IInvoiceToken.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {InvoiceNumbers} from "./InvoiceNumbers.sol";
import {
    State, Record, StoredListing, CurrencyInfo, StoredLineage, Counters, ReceivableRules
} from "./ReceivableState.sol";
import {Settlement} from "./Settlement.sol";
import {Remedies} from "./Remedies.sol";
import {Intake} from "./Intake.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

/// @title InvoiceToken
/// @notice Receivables of an SCF network; see {IInvoiceToken}.
/// @dev Storage keeps only what a rule reads (the invoice number, document
/// hash and advance live in events), in one {State} struct. Parties are stored
/// as the registry's participant ids, so an issued invoice is one slot (plus
/// the identity key and ERC-721's owner); a financed one three. A part of a
/// split adds one slot of lineage (parent, root, depth) and one entry in its
/// root's list of parts.
///
/// Three linked libraries keep this contract under the EIP-170 code size limit:
/// {InvoiceNumbers} (number normalisation), {Settlement} (the money legs:
/// financing, repayment, credit notes, buy-back) and {Remedies} (disputes,
/// extensions, defaults, write-offs). The last two run by DELEGATECALL on this
/// contract's storage, so there is one address, one storage and one event log;
/// this contract keeps every ERC-721 move (mint, burn, transfer) itself.
///
/// Splitting: a holder splits an unfinanced Confirmed or PartiallyPaid
/// receivable into 2..MAX_PARTS parts that sum to its open amount; parts nest
/// down to MAX_DEPTH, within a budget of parts: MAX_TREE_PARTS per root,
/// shared out equally to the parts of each split (see {IInvoiceToken-split}). {repayRoot} pays pro
/// rata across the payable leaves: floor(amount * open / total) each, then the
/// minor units left over one each to the leaves with room, in id order (so the
/// shares sum to the amount exactly and none exceeds its leaf's open amount).
contract InvoiceToken is
    IInvoiceToken,
    ERC721,
    EIP712,
    AccessControlDefaultAdminRules,
    Pausable,
    ReentrancyGuard
{
    using ReceivableRules for State;

    /// @notice Pauses the contract and sets the longest tenor and the grace period.
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");
    /// @notice Accepts settlement currencies.
    bytes32 public constant CURRENCY_MANAGER_ROLE = keccak256("CURRENCY_MANAGER_ROLE");

    // Role bits of the registry (see IParticipantRegistry).
    uint8 private constant ANY_ROLE = 0;
    uint8 private constant SUPPLIER = 1;

    /// @notice The most parts one split makes (at least 2).
    uint256 public constant MAX_PARTS = 10;
    /// @notice The deepest a part may sit below its root (the root is at depth 0).
    uint256 public constant MAX_DEPTH = 3;
    /// @notice The most parts a root's tree may hold in total: a root's budget of parts,
    /// shared out equally by each split to its parts, so a branch never spends another's.
    uint256 public constant MAX_TREE_PARTS = 64;
    /// @notice The longest grace period, in seconds (a year).
    uint256 public constant MAX_GRACE_PERIOD = 365 days;

    /// @notice The registry that says who may act.
    IParticipantRegistry public immutable registry;

    State private _s;

    /// @param registry_ The participant registry.
    /// @param admin The default admin (grants roles; transferred in two steps after `adminDelay`).
    /// @param operator Holder of OPERATOR_ROLE.
    /// @param currencyManager Holder of CURRENCY_MANAGER_ROLE.
    /// @param adminDelay Seconds a new default admin waits before accepting.
    /// @param maxTenor_ The longest time from issue to due date, in seconds.
    /// @param gracePeriod_ Seconds after the due date before an unfinanced receivable may be defaulted.
    constructor(
        IParticipantRegistry registry_,
        address admin,
        address operator,
        address currencyManager,
        uint48 adminDelay,
        uint64 maxTenor_,
        uint32 gracePeriod_
    )
        ERC721("SCF Invoice Receivable", "SCFINV")
        EIP712("SCF Invoice Receivable", "5")
        AccessControlDefaultAdminRules(adminDelay, admin)
    {
        registry = registry_;
        _grantRole(OPERATOR_ROLE, operator);
        _grantRole(CURRENCY_MANAGER_ROLE, currencyManager);
        if (maxTenor_ < 1 days) revert InvalidMaxTenor(maxTenor_);
        if (gracePeriod_ > MAX_GRACE_PERIOD) revert InvalidGracePeriod(gracePeriod_);
        _s.counters = Counters(1, maxTenor_, gracePeriod_);
        emit MaxTenorChanged(maxTenor_);
        emit GracePeriodChanged(gracePeriod_);
    }

    /// @inheritdoc IInvoiceToken
    function issue(
        address buyer,
        string calldata number,
        uint256 amount,
        address currency,
        uint64 dueDate,
        bytes32 docHash
    ) external whenNotPaused returns (uint256 invoiceId) {
        invoiceId = Intake.issue(_s, registry, buyer, number, amount, currency, dueDate);
        _mint(msg.sender, invoiceId);
        emit InvoiceIssued(invoiceId, msg.sender, buyer, number, currency, amount, dueDate, docHash);
    }

    /// @inheritdoc IInvoiceToken
    function issueBatch(IssueRequest[] calldata requests) external whenNotPaused returns (uint256 firstInvoiceId) {
        firstInvoiceId = Intake.issueBatch(_s, registry, requests);
        for (uint256 i; i < requests.length; ++i) {
            IssueRequest calldata q = requests[i];
            _mint(msg.sender, firstInvoiceId + i);
            emit InvoiceIssued(
                firstInvoiceId + i, msg.sender, q.buyer, q.number, q.currency, q.amount, q.dueDate, q.docHash
            );
        }
    }

    /// @inheritdoc IInvoiceToken
    function confirm(uint256 invoiceId) external whenNotPaused {
        Intake.confirm(_s, registry, invoiceId);
    }

    /// @inheritdoc IInvoiceToken
    function confirmBatch(uint256[] calldata invoiceIds) external whenNotPaused {
        Intake.confirmBatch(_s, registry, invoiceIds);
    }

    /// @inheritdoc IInvoiceToken
    function confirmWithSignatures(SignedConfirmation[] calldata confirmations) external whenNotPaused {
        Intake.confirmWithSignatures(_s, registry, _domainSeparatorV4(), confirmations);
    }

    /// @inheritdoc IInvoiceToken
    function revokeConfirmationNonces(uint256 word, uint256 mask) external {
        Intake.revokeNonces(_s, word, mask);
    }

    /// @inheritdoc IInvoiceToken
    function confirmationNonces(address buyer, uint256 word) external view returns (uint256) {
        return _s.confirmationNonces[buyer][word];
    }

    /// @inheritdoc IInvoiceToken
    function cancel(uint256 invoiceId) external whenNotPaused {
        Record storage r = _s.existing(invoiceId);
        address supplier = registry.accountOf(r.supplierId);
        if (msg.sender != supplier) revert NotInvoiceSupplier(invoiceId, msg.sender, supplier);
        registry.requireActive(msg.sender, SUPPLIER);
        if (r.status != Status.Issued) revert InvoiceNotIssued(invoiceId, r.status);
        r.status = Status.Cancelled;
        // The identity key stays registered: a cancelled invoice never frees its number.
        _burn(invoiceId);
        emit InvoiceCancelled(invoiceId, msg.sender);
    }

    /// @inheritdoc IInvoiceToken
    function offerForFinancing(uint256 invoiceId, address financier, uint256 minAdvance, uint64 expiry, bool recourse)
        external
        whenNotPaused
    {
        Record storage r = _s.existing(invoiceId);
        address holder = _ownerOf(invoiceId);
        if (msg.sender != holder) revert NotInvoiceHolder(invoiceId, msg.sender, holder);
        registry.requireActive(msg.sender, ANY_ROLE);
        if (r.seller != address(0)) revert InvoiceAlreadyFinanced(invoiceId, r.seller);
        Settlement.requireFinanceable(invoiceId, r.status);
        if (expiry <= block.timestamp) revert InvalidOfferExpiry(invoiceId, expiry);
        uint256 outstanding = r.amount - r.paid;
        if (minAdvance == 0 || minAdvance > outstanding) revert InvalidAsk(invoiceId, minAdvance, outstanding);
        _s.listings[invoiceId] = StoredListing(financier, expiry, recourse, uint96(minAdvance));
        emit FinancingOffered(invoiceId, holder, financier, minAdvance, expiry, recourse);
    }

    /// @inheritdoc IInvoiceToken
    function withdrawOffer(uint256 invoiceId) external whenNotPaused {
        _s.existing(invoiceId);
        address holder = _ownerOf(invoiceId);
        if (msg.sender != holder) revert NotInvoiceHolder(invoiceId, msg.sender, holder);
        if (_s.listings[invoiceId].expiry == 0) revert NotListed(invoiceId);
        delete _s.listings[invoiceId];
        emit FinancingOfferWithdrawn(invoiceId, holder);
    }

    /// @inheritdoc IInvoiceToken
    function finance(uint256 invoiceId, FinancingTerms calldata terms) external whenNotPaused nonReentrant {
        address seller = _ownerOf(invoiceId);
        Settlement.finance(_s, registry, invoiceId, terms, seller);
        // Delivery versus payment: the advance is paid; the receivable moves now, in the same transaction.
        _transfer(seller, msg.sender, invoiceId);
    }

    /// @inheritdoc IInvoiceToken
    function repay(uint256 invoiceId, uint256 amount) external whenNotPaused nonReentrant {
        Settlement.repay(_s, registry, invoiceId, amount, _ownerOf(invoiceId));
    }

    /// @inheritdoc IInvoiceToken
    function split(uint256 invoiceId, Part[] calldata parts) external whenNotPaused returns (uint256 firstPartId) {
        Record storage r = _s.existing(invoiceId);
        address holder = _ownerOf(invoiceId);
        if (msg.sender != holder) revert NotInvoiceHolder(invoiceId, msg.sender, holder);
        registry.requireActive(msg.sender, ANY_ROLE);
        if (r.seller != address(0)) revert SplitFinanced(invoiceId, r.seller);
        Settlement.requireFinanceable(invoiceId, r.status);
        if (block.timestamp >= r.dueDate) revert InvoiceMatured(invoiceId, r.dueDate);
        (uint256 rootId, uint256 depth, uint256 budget) = _checkSplit(invoiceId, r.amount - r.paid, parts);

        r.status = Status.Split;
        _s.clearListing(invoiceId, holder);
        uint256 n = parts.length;
        firstPartId = _s.counters.nextInvoiceId;
        _s.counters.nextInvoiceId = uint64(firstPartId + n);
        emit InvoiceSplit(invoiceId, rootId, msg.sender, n);
        for (uint256 i; i < n; ++i) {
            _createPart(r, firstPartId + i, parts[i], invoiceId, rootId, depth, budget);
        }
    }

    /// @dev The split's bounds, sums and part holders; returns the tree's root, the parts'
    /// depth and each part's budget (an equal share of what the split leaves of this one's).
    function _checkSplit(uint256 invoiceId, uint256 outstanding, Part[] calldata parts)
        private
        view
        returns (uint256 rootId, uint256 depth, uint256 partBudget)
    {
        uint256 n = parts.length;
        uint256 sum = 0;
        bool bad = n < 2 || n > MAX_PARTS;
        for (uint256 i; i < n && !bad; ++i) {
            uint256 a = parts[i].amount;
            if (a == 0 || a > outstanding) bad = true;
            else sum += a; // at most MAX_PARTS amounts below 2^96: no overflow
        }
        if (bad || sum != outstanding) revert InvalidSplit(invoiceId, n, sum, outstanding);
        StoredLineage memory l = _s.lineage[invoiceId];
        rootId = l.root == 0 ? invoiceId : l.root;
        depth = uint256(l.depth) + 1;
        uint256 budget = l.root == 0 ? MAX_TREE_PARTS : l.budget;
        if (depth > MAX_DEPTH || n > budget) revert SplitLimit(invoiceId, depth, n, budget);
        partBudget = (budget - n) / n;
        for (uint256 i; i < n; ++i) {
            registry.requireActive(parts[i].holder, ANY_ROLE);
        }
    }

    /// @dev Records and mints one part of `parent`: its buyer, supplier, currency and due date, Confirmed.
    function _createPart(
        Record storage parent,
        uint256 partId,
        Part calldata part,
        uint256 parentId,
        uint256 rootId,
        uint256 depth,
        uint256 budget
    ) private {
        Record storage p = _s.records[partId];
        p.supplierId = parent.supplierId;
        p.buyerId = parent.buyerId;
        p.amount = uint96(part.amount);
        p.dueDate = parent.dueDate;
        p.status = Status.Confirmed;
        p.currencyId = parent.currencyId;
        _s.lineage[partId] = StoredLineage(uint64(parentId), uint64(rootId), uint8(depth), uint8(budget));
        _s.parts[rootId].push(uint64(partId));
        _mint(part.holder, partId);
        emit PartCreated(partId, parentId, rootId, part.holder, part.amount, uint8(depth), part.ref);
    }

    /// @inheritdoc IInvoiceToken
    function transferWithReference(uint256 invoiceId, address to, bytes32 ref) external {
        _s.existing(invoiceId);
        address holder = _ownerOf(invoiceId);
        if (msg.sender != holder) revert NotInvoiceHolder(invoiceId, msg.sender, holder);
        // The rules of every transfer (live status, active participants, not paused) are in _update.
        _transfer(holder, to, invoiceId);
        emit ReceivableTransferred(invoiceId, holder, to, ref);
    }

    /// @inheritdoc IInvoiceToken
    function repayRoot(uint256 rootId, uint256 amount) external whenNotPaused nonReentrant {
        uint256 leaves = 1;
        if (_s.existing(rootId).status == Status.Split) {
            leaves = Settlement.repayTree(_s, registry, rootId, amount);
        } else {
            Settlement.repay(_s, registry, rootId, amount, _ownerOf(rootId));
        }
        emit RootRepaid(rootId, msg.sender, amount, leaves);
    }

    /// @inheritdoc IInvoiceToken
    function dispute(uint256 invoiceId, bytes32 reason) external whenNotPaused {
        Remedies.dispute(_s, registry, invoiceId, reason, _ownerOf(invoiceId));
    }

    /// @inheritdoc IInvoiceToken
    function withdrawDispute(uint256 invoiceId) external whenNotPaused {
        Remedies.withdrawDispute(_s, registry, invoiceId);
    }

    /// @inheritdoc IInvoiceToken
    function issueCreditNote(uint256 invoiceId, uint256 credit, bytes32 noteHash) external whenNotPaused nonReentrant {
        Settlement.issueCreditNote(_s, invoiceId, credit, noteHash, _ownerOf(invoiceId));
    }

    /// @inheritdoc IInvoiceToken
    function proposeExtension(uint256 invoiceId, uint64 newDueDate) external whenNotPaused {
        Remedies.proposeExtension(_s, registry, invoiceId, newDueDate);
    }

    /// @inheritdoc IInvoiceToken
    function acceptExtension(uint256 invoiceId, uint64 newDueDate) external whenNotPaused {
        Remedies.acceptExtension(_s, registry, invoiceId, newDueDate, _ownerOf(invoiceId));
    }

    /// @inheritdoc IInvoiceToken
    function declareDefault(uint256 invoiceId) external whenNotPaused {
        Remedies.declareDefault(_s, invoiceId, _ownerOf(invoiceId));
    }

    /// @inheritdoc IInvoiceToken
    function writeOff(uint256 invoiceId) external whenNotPaused {
        Remedies.writeOff(_s, invoiceId, _ownerOf(invoiceId));
    }

    /// @inheritdoc IInvoiceToken
    function buyBack(uint256 invoiceId) external whenNotPaused nonReentrant {
        address holder = _ownerOf(invoiceId);
        address seller = Settlement.buyBack(_s, invoiceId, holder);
        // Enforcement of recourse: a Defaulted receivable moves back to the seller past the
        // transfer rules of {_update} (status, KYC), which guard voluntary transfers.
        ERC721._update(seller, invoiceId, address(0));
    }

    /// @inheritdoc IInvoiceToken
    function setCurrencyAccepted(address currency, bool accepted) external onlyRole(CURRENCY_MANAGER_ROLE) {
        CurrencyInfo storage info = _s.currencies[currency];
        if (info.id == 0) {
            // Ids count from 1 and are never reused, so a stored invoice's currency never changes.
            uint16 id = ++_s.currencyCount;
            info.id = id;
            _s.currencyById[id] = currency;
        }
        info.accepted = accepted;
        emit CurrencyAcceptanceChanged(currency, info.id, accepted);
    }

    /// @inheritdoc IInvoiceToken
    function setMaxTenor(uint64 maxTenor_) external onlyRole(OPERATOR_ROLE) {
        if (maxTenor_ < 1 days) revert InvalidMaxTenor(maxTenor_);
        _s.counters.maxTenor = maxTenor_;
        emit MaxTenorChanged(maxTenor_);
    }

    /// @inheritdoc IInvoiceToken
    function setGracePeriod(uint32 gracePeriod_) external onlyRole(OPERATOR_ROLE) {
        if (gracePeriod_ > MAX_GRACE_PERIOD) revert InvalidGracePeriod(gracePeriod_);
        _s.counters.gracePeriod = gracePeriod_;
        emit GracePeriodChanged(gracePeriod_);
    }

    /// @inheritdoc IInvoiceToken
    function pause() external onlyRole(OPERATOR_ROLE) {
        _pause();
    }

    /// @inheritdoc IInvoiceToken
    function unpause() external onlyRole(OPERATOR_ROLE) {
        _unpause();
    }

    /// @inheritdoc IInvoiceToken
    function getInvoice(uint256 invoiceId) external view returns (Invoice memory) {
        Record storage r = _s.existing(invoiceId);
        return Invoice({
            supplier: registry.accountOf(r.supplierId),
            buyer: registry.accountOf(r.buyerId),
            currency: _s.currencyById[r.currencyId],
            dueDate: r.dueDate,
            status: r.status,
            amount: r.amount,
            paid: r.paid,
            seller: r.seller,
            financierDue: r.financierDue,
            financierPaid: r.financierPaid,
            recourse: r.recourse,
            gracePeriod: r.seller == address(0) ? _s.counters.gracePeriod : r.gracePeriod,
            disputedFrom: r.disputedFrom,
            proposedDueDate: _s.proposedDueDates[invoiceId]
        });
    }

    /// @inheritdoc IInvoiceToken
    function getListing(uint256 invoiceId) external view returns (Listing memory) {
        StoredListing memory l = _s.listings[invoiceId];
        return Listing(l.financier, l.expiry, l.minAdvance, l.recourse);
    }

    /// @inheritdoc IInvoiceToken
    function getLineage(uint256 invoiceId) external view returns (Lineage memory) {
        _s.existing(invoiceId);
        StoredLineage memory l = _s.lineage[invoiceId];
        if (l.root == 0) return Lineage(0, invoiceId, 0);
        return Lineage(l.parent, l.root, l.depth);
    }

    /// @inheritdoc IInvoiceToken
    function partsOf(uint256 rootId) external view returns (uint256[] memory ids) {
        uint64[] storage tree = _s.parts[rootId];
        ids = new uint256[](tree.length);
        for (uint256 i; i < ids.length; ++i) {
            ids[i] = tree[i];
        }
    }

    /// @inheritdoc IInvoiceToken
    function invoiceIdOf(address supplier, string calldata number) external view returns (uint256) {
        return _s.invoiceByKey[keccak256(abi.encodePacked(supplier, InvoiceNumbers.normalise(number)))];
    }

    /// @inheritdoc IInvoiceToken
    function normaliseNumber(string calldata number) external pure returns (bytes memory) {
        return InvoiceNumbers.normalise(number);
    }

    /// @inheritdoc IInvoiceToken
    function currencyAccepted(address currency) external view returns (bool) {
        return _s.currencies[currency].accepted;
    }

    /// @inheritdoc IInvoiceToken
    function nextInvoiceId() external view returns (uint256) {
        return _s.counters.nextInvoiceId;
    }

    /// @inheritdoc IInvoiceToken
    function maxTenor() external view returns (uint64) {
        return _s.counters.maxTenor;
    }

    /// @inheritdoc IInvoiceToken
    function gracePeriod() external view returns (uint32) {
        return _s.counters.gracePeriod;
    }

    /// @inheritdoc IInvoiceToken
    function version() external pure returns (uint256) {
        return 5;
    }

    /// @notice ERC-165: both ERC-721 and AccessControl answer.
    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC721, AccessControlDefaultAdminRules)
        returns (bool)
    {
        return super.supportsInterface(interfaceId);
    }

    /// @dev Every holder change except mint and burn is a transfer of a
    /// receivable: only live receivables move, only between active
    /// participants, never while paused, and a listing never survives it.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address) {
        address from = _ownerOf(tokenId);
        if (from != address(0) && to != address(0)) {
            _requireNotPaused();
            Status status = _s.records[tokenId].status;
            if (!ReceivableRules.isOpen(status)) {
                revert InvoiceNotTransferable(tokenId, status);
            }
            registry.requireActive(from, ANY_ROLE);
            registry.requireActive(to, ANY_ROLE);
            // Consent was given by the old holder: it must not revive if the token comes back.
            _s.clearListing(tokenId, from);
        }
        return super._update(to, tokenId, auth);
    }

    /// @dev Granting an approval is new business: refused while paused and to
    /// owners who may not act (revoking is always allowed).
    function _approve(address to, uint256 tokenId, address auth, bool emitEvent) internal override {
        if (to != address(0)) {
            _requireNotPaused();
            registry.requireActive(_requireOwned(tokenId), ANY_ROLE);
        }
        super._approve(to, tokenId, auth, emitEvent);
    }

    /// @dev As {_approve}, for operators of all of an owner's receivables.
    function _setApprovalForAll(address owner, address operator, bool approved) internal override {
        if (approved) {
            _requireNotPaused();
            registry.requireActive(owner, ANY_ROLE);
        }
        super._setApprovalForAll(owner, operator, approved);
    }
}
