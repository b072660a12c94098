// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IInvoiceToken} from "./interfaces/IInvoiceToken.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {InvoiceNumbers} from "./InvoiceNumbers.sol";

/// @title InvoiceToken
/// @notice Receivables of an SCF network; see {IInvoiceToken}.
/// @dev Storage keeps only what a rule reads (the invoice number, document
/// hash and advance live in events). Parties are stored as the registry's
/// participant ids, so an issued invoice is one slot (plus the identity key
/// and ERC-721's owner); a financed one three. A part of a split adds one slot
/// of lineage (parent, root, depth) and one entry in its root's list of parts.
/// Invoice-number normalisation lives in the linked library {InvoiceNumbers},
/// which keeps this contract under the EIP-170 code size limit.
///
/// Splitting: a holder splits an unfinanced Confirmed or PartiallyPaid
/// receivable into 2..MAX_PARTS parts that sum to its open amount; parts nest
/// down to MAX_DEPTH, within a budget of parts: MAX_TREE_PARTS per root,
/// shared out equally to the parts of each split (see {IInvoiceToken-split}). {repayRoot} pays pro
/// rata across the open leaves: floor(amount * open / total) each, then the
/// minor units left over one each to the leaves with room, in id order (so the
/// shares sum to the amount exactly and none exceeds its leaf's open amount).
contract InvoiceToken is IInvoiceToken, ERC721, AccessControlDefaultAdminRules, Pausable, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice Pauses the contract and sets the longest tenor.
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");
    /// @notice Accepts settlement currencies.
    bytes32 public constant CURRENCY_MANAGER_ROLE = keccak256("CURRENCY_MANAGER_ROLE");

    // Role bits of the registry (see IParticipantRegistry).
    uint8 private constant ANY_ROLE = 0;
    uint8 private constant SUPPLIER = 1;
    uint8 private constant BUYER = 2;
    uint8 private constant FINANCIER = 4;

    /// @notice The most parts one split makes (at least 2).
    uint256 public constant MAX_PARTS = 10;
    /// @notice The deepest a part may sit below its root (the root is at depth 0).
    uint256 public constant MAX_DEPTH = 3;
    /// @notice The most parts a root's tree may hold in total: a root's budget of parts,
    /// shared out equally by each split to its parts, so a branch never spends another's.
    uint256 public constant MAX_TREE_PARTS = 64;

    struct Record {
        // slot 0: written at issue (31 bytes)
        uint32 supplierId;
        uint32 buyerId;
        uint96 amount;
        uint64 dueDate;
        Status status;
        uint16 currencyId;
        // slot 1: written by repayments and at financing
        uint96 paid;
        uint96 financierDue;
        // slot 2: written at financing and by repayments of a financed invoice
        address seller;
        uint96 financierPaid;
    }

    struct StoredListing {
        address financier;
        uint64 expiry;
        uint96 minAdvance;
    }

    struct CurrencyInfo {
        uint16 id;
        bool accepted;
    }

    // A buyer's payment to one receivable, booked and not yet paid out.
    struct Settlement {
        uint256 invoiceId;
        address holder;
        address seller;
        uint256 amount;
        uint256 toHolder;
        uint256 totalPaid;
    }

    // Where a part sits in its tree, in one slot; a root has none stored (parent 0).
    struct StoredLineage {
        uint64 parent;
        uint64 root;
        uint8 depth;
        // Parts this part may still make below it (a root's is MAX_TREE_PARTS, not stored).
        uint8 budget;
    }

    // One slot read by every issue.
    struct Counters {
        uint64 nextInvoiceId;
        uint64 maxTenor;
    }

    /// @notice The registry that says who may act.
    IParticipantRegistry public immutable registry;

    Counters private _counters;
    uint16 private _currencyCount;

    mapping(uint256 invoiceId => Record) private _records;
    mapping(uint256 invoiceId => StoredListing) private _listings;
    mapping(bytes32 key => uint256 invoiceId) private _invoiceByKey;
    mapping(address currency => CurrencyInfo) private _currencies;
    mapping(uint16 currencyId => address) private _currencyById;
    mapping(uint256 partId => StoredLineage) private _lineage;
    mapping(uint256 rootId => uint64[]) private _parts;

    /// @param registry_ The participant registry.
    /// @param admin The default admin (grants roles; transferred in two steps after `adminDelay`).
    /// @param operator Holder of OPERATOR_ROLE.
    /// @param currencyManager Holder of CURRENCY_MANAGER_ROLE.
    /// @param adminDelay Seconds a new default admin waits before accepting.
    /// @param maxTenor_ The longest time from issue to due date, in seconds.
    constructor(
        IParticipantRegistry registry_,
        address admin,
        address operator,
        address currencyManager,
        uint48 adminDelay,
        uint64 maxTenor_
    ) ERC721("SCF Invoice Receivable", "SCFINV") AccessControlDefaultAdminRules(adminDelay, admin) {
        registry = registry_;
        _grantRole(OPERATOR_ROLE, operator);
        _grantRole(CURRENCY_MANAGER_ROLE, currencyManager);
        if (maxTenor_ < 1 days) revert InvalidMaxTenor(maxTenor_);
        _counters = Counters(1, maxTenor_);
        emit MaxTenorChanged(maxTenor_);
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
        uint32 supplierId = registry.requireActive(msg.sender, SUPPLIER);
        uint32 buyerId = registry.requireActive(buyer, BUYER);
        if (buyer == msg.sender) revert InvalidBuyer(buyer);
        if (amount == 0 || amount > type(uint96).max) revert InvalidAmount(amount);
        CurrencyInfo memory info = _currencies[currency];
        if (!info.accepted) revert CurrencyNotAccepted(currency);
        invoiceId = _register(number, dueDate);
        Record storage r = _records[invoiceId];
        r.supplierId = supplierId;
        r.buyerId = buyerId;
        r.amount = uint96(amount);
        r.dueDate = dueDate;
        r.status = Status.Issued;
        r.currencyId = info.id;
        _mint(msg.sender, invoiceId);
        emit InvoiceIssued(invoiceId, msg.sender, buyer, number, currency, amount, dueDate, docHash);
    }

    /// @dev Checks the due date against the tenor window, registers the caller's
    /// invoice number under the next id, and returns that id.
    function _register(string calldata number, uint64 dueDate) private returns (uint256 invoiceId) {
        Counters memory counters = _counters;
        if (dueDate <= block.timestamp || dueDate > block.timestamp + counters.maxTenor) {
            revert InvalidDueDate(dueDate, block.timestamp, block.timestamp + counters.maxTenor);
        }
        // The identity is the contract's to compute: the caller cannot choose a key.
        bytes memory normalised = InvoiceNumbers.normalise(number);
        bytes32 key = keccak256(abi.encodePacked(msg.sender, normalised));
        uint256 existing = _invoiceByKey[key];
        if (existing != 0) revert DuplicateInvoice(msg.sender, normalised, existing);
        invoiceId = counters.nextInvoiceId;
        _counters.nextInvoiceId = counters.nextInvoiceId + 1;
        _invoiceByKey[key] = invoiceId;
    }

    /// @inheritdoc IInvoiceToken
    function confirm(uint256 invoiceId) external whenNotPaused {
        Record storage r = _existing(invoiceId);
        address buyer = registry.accountOf(r.buyerId);
        if (msg.sender != buyer) revert NotInvoiceBuyer(invoiceId, msg.sender, buyer);
        registry.requireActive(msg.sender, BUYER);
        if (r.status != Status.Issued) revert InvoiceNotIssued(invoiceId, r.status);
        r.status = Status.Confirmed;
        emit InvoiceConfirmed(invoiceId, msg.sender);
    }

    /// @inheritdoc IInvoiceToken
    function cancel(uint256 invoiceId) external whenNotPaused {
        Record storage r = _existing(invoiceId);
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
    function offerForFinancing(uint256 invoiceId, address financier, uint256 minAdvance, uint64 expiry)
        external
        whenNotPaused
    {
        Record storage r = _existing(invoiceId);
        address holder = _ownerOf(invoiceId);
        if (msg.sender != holder) revert NotInvoiceHolder(invoiceId, msg.sender, holder);
        registry.requireActive(msg.sender, ANY_ROLE);
        if (r.seller != address(0)) revert InvoiceAlreadyFinanced(invoiceId, r.seller);
        _requireFinanceable(invoiceId, r.status);
        if (expiry <= block.timestamp) revert InvalidOfferExpiry(invoiceId, expiry);
        uint256 outstanding = r.amount - r.paid;
        if (minAdvance == 0 || minAdvance > outstanding) revert InvalidAsk(invoiceId, minAdvance, outstanding);
        _listings[invoiceId] = StoredListing(financier, expiry, uint96(minAdvance));
        emit FinancingOffered(invoiceId, holder, financier, minAdvance, expiry);
    }

    /// @inheritdoc IInvoiceToken
    function withdrawOffer(uint256 invoiceId) external whenNotPaused {
        _existing(invoiceId);
        address holder = _ownerOf(invoiceId);
        if (msg.sender != holder) revert NotInvoiceHolder(invoiceId, msg.sender, holder);
        if (_listings[invoiceId].expiry == 0) revert NotListed(invoiceId);
        delete _listings[invoiceId];
        emit FinancingOfferWithdrawn(invoiceId, holder);
    }

    /// @inheritdoc IInvoiceToken
    function finance(uint256 invoiceId, FinancingTerms calldata terms) external whenNotPaused nonReentrant {
        registry.requireActive(msg.sender, FINANCIER);
        if (block.timestamp > terms.deadline) {
            revert FinancingDeadlinePassed(invoiceId, terms.deadline, block.timestamp);
        }
        Record storage r = _existing(invoiceId);
        if (r.seller != address(0)) revert InvoiceAlreadyFinanced(invoiceId, r.seller);
        _requireFinanceable(invoiceId, r.status);
        if (r.amount != terms.amount || r.paid != terms.paid || r.dueDate != terms.dueDate) {
            revert FinancingTermsChanged(
                invoiceId, terms.amount, r.amount, terms.paid, r.paid, terms.dueDate, r.dueDate
            );
        }
        address seller = _ownerOf(invoiceId);
        if (seller != terms.seller) revert FinancingSellerChanged(invoiceId, terms.seller, seller);
        if (seller == msg.sender) revert SelfFinancing(invoiceId, msg.sender);
        if (block.timestamp >= r.dueDate) revert InvoiceMatured(invoiceId, r.dueDate);
        uint256 outstanding = r.amount - r.paid;
        if (terms.due > outstanding) revert InvalidFinancierDue(invoiceId, terms.due, outstanding);
        if (terms.advance == 0 || terms.advance > terms.due) revert InvalidAdvance(invoiceId, terms.advance, terms.due);

        // Consent of the holder: a live listing this financier may take, whose ask is met.
        // An ERC-721 approval is not consent to a price.
        StoredListing memory listing = _listings[invoiceId];
        if (
            block.timestamp > listing.expiry
                || (listing.financier != address(0) && listing.financier != msg.sender)
        ) revert FinancingNotAuthorized(invoiceId, seller, msg.sender);
        if (terms.advance < listing.minAdvance) revert AdvanceBelowAsk(invoiceId, terms.advance, listing.minAdvance);

        r.seller = seller;
        r.financierDue = uint96(terms.due);
        r.status = Status.Financed;
        // Consumed by this financing, so no FinancingOfferWithdrawn from the transfer below.
        delete _listings[invoiceId];
        // Delivery versus payment: both legs in this transaction or neither.
        _transfer(seller, msg.sender, invoiceId);
        _pay(_currencyById[r.currencyId], msg.sender, seller, terms.advance);
        emit InvoiceFinanced(invoiceId, msg.sender, seller, terms.advance, terms.due);
    }

    /// @inheritdoc IInvoiceToken
    function repay(uint256 invoiceId, uint256 amount) external whenNotPaused nonReentrant {
        _repay(invoiceId, amount);
    }

    /// @dev {repay}: the caller pays `amount` of one receivable.
    function _repay(uint256 invoiceId, uint256 amount) private {
        Record storage r = _existing(invoiceId);
        _requireBuyer(invoiceId, r);
        Status status = r.status;
        if (status != Status.Confirmed && status != Status.Financed && status != Status.PartiallyPaid) {
            revert InvoiceNotPayable(invoiceId, status);
        }
        uint256 outstanding = r.amount - r.paid;
        if (amount == 0 || amount > outstanding) revert InvalidRepayment(invoiceId, amount, outstanding);
        Settlement memory s = _book(invoiceId, r, amount);
        _settle(_currencyById[r.currencyId], s);
    }

    /// @inheritdoc IInvoiceToken
    function split(uint256 invoiceId, Part[] calldata parts) external whenNotPaused returns (uint256 firstPartId) {
        Record storage r = _existing(invoiceId);
        address holder = _ownerOf(invoiceId);
        if (msg.sender != holder) revert NotInvoiceHolder(invoiceId, msg.sender, holder);
        registry.requireActive(msg.sender, ANY_ROLE);
        if (r.seller != address(0)) revert SplitFinanced(invoiceId, r.seller);
        _requireFinanceable(invoiceId, r.status);
        if (block.timestamp >= r.dueDate) revert InvoiceMatured(invoiceId, r.dueDate);
        (uint256 rootId, uint256 depth, uint256 budget) = _checkSplit(invoiceId, r.amount - r.paid, parts);

        r.status = Status.Split;
        if (_listings[invoiceId].expiry != 0) {
            delete _listings[invoiceId];
            emit FinancingOfferWithdrawn(invoiceId, holder);
        }
        uint256 n = parts.length;
        firstPartId = _counters.nextInvoiceId;
        _counters.nextInvoiceId = uint64(firstPartId + n);
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
        uint256 sum;
        bool bad = n < 2 || n > MAX_PARTS;
        for (uint256 i; i < n && !bad; ++i) {
            uint256 a = parts[i].amount;
            if (a == 0 || a > outstanding) bad = true;
            else sum += a; // at most MAX_PARTS amounts below 2^96: no overflow
        }
        if (bad || sum != outstanding) revert InvalidSplit(invoiceId, n, sum, outstanding);
        StoredLineage memory l = _lineage[invoiceId];
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
        Record storage p = _records[partId];
        p.supplierId = parent.supplierId;
        p.buyerId = parent.buyerId;
        p.amount = uint96(part.amount);
        p.dueDate = parent.dueDate;
        p.status = Status.Confirmed;
        p.currencyId = parent.currencyId;
        _lineage[partId] = StoredLineage(uint64(parentId), uint64(rootId), uint8(depth), uint8(budget));
        _parts[rootId].push(uint64(partId));
        _mint(part.holder, partId);
        emit PartCreated(partId, parentId, rootId, part.holder, part.amount, uint8(depth), part.ref);
    }

    /// @inheritdoc IInvoiceToken
    function transferWithReference(uint256 invoiceId, address to, bytes32 ref) external {
        _existing(invoiceId);
        address holder = _ownerOf(invoiceId);
        if (msg.sender != holder) revert NotInvoiceHolder(invoiceId, msg.sender, holder);
        // The rules of every transfer (live status, active participants, not paused) are in _update.
        _transfer(holder, to, invoiceId);
        emit ReceivableTransferred(invoiceId, holder, to, ref);
    }

    /// @inheritdoc IInvoiceToken
    function repayRoot(uint256 rootId, uint256 amount) external whenNotPaused nonReentrant {
        Record storage root = _existing(rootId);
        if (root.status != Status.Split) {
            _repay(rootId, amount);
            emit RootRepaid(rootId, msg.sender, amount, 1);
            return;
        }
        _requireBuyer(rootId, root);
        // The open leaves under rootId, in id order.
        uint64[] storage tree = _parts[_rootOf(rootId)];
        uint256 n = tree.length;
        uint256[] memory leaves = new uint256[](n);
        uint256[] memory open = new uint256[](n);
        uint256 count;
        uint256 total;
        for (uint256 i; i < n; ++i) {
            uint256 id = tree[i];
            Record storage leaf = _records[id];
            Status status = leaf.status;
            if (status == Status.Split || status == Status.Paid || !_descends(id, rootId)) continue;
            leaves[count] = id;
            open[count] = leaf.amount - leaf.paid;
            total += open[count];
            ++count;
        }
        if (amount == 0 || amount > total) revert InvalidRepayment(rootId, amount, total);

        // Pro rata, rounded down, then the units left over one each to leaves with room, in id order.
        uint256[] memory share = new uint256[](count);
        uint256 left = amount;
        for (uint256 i; i < count; ++i) {
            share[i] = amount * open[i] / total;
            left -= share[i];
        }
        for (uint256 i; left != 0; ++i) {
            if (share[i] < open[i]) {
                ++share[i];
                --left;
            }
        }
        // Effects for every leaf first, then the payments.
        Settlement[] memory settlements = new Settlement[](count);
        uint256 paidLeaves;
        for (uint256 i; i < count; ++i) {
            if (share[i] == 0) continue;
            settlements[paidLeaves++] = _book(leaves[i], _records[leaves[i]], share[i]);
        }
        address currency = _currencyById[root.currencyId];
        for (uint256 i; i < paidLeaves; ++i) {
            _settle(currency, settlements[i]);
        }
        emit RootRepaid(rootId, msg.sender, amount, paidLeaves);
    }

    /// @dev The waterfall of `amount` (checked by the caller) on `r`: the financier
    /// side first, up to its due; the reserve to the seller. Records it; pays nothing.
    function _book(uint256 invoiceId, Record storage r, uint256 amount) private returns (Settlement memory s) {
        s.invoiceId = invoiceId;
        s.holder = _ownerOf(invoiceId);
        s.seller = r.seller;
        s.amount = amount;
        s.toHolder = amount;
        if (s.seller != address(0)) {
            uint256 owed = uint256(r.financierDue) - r.financierPaid;
            if (s.toHolder > owed) s.toHolder = owed;
            r.financierPaid += uint96(s.toHolder);
        }
        s.totalPaid = r.paid + amount;
        r.paid = uint96(s.totalPaid);
        r.status = s.totalPaid == r.amount ? Status.Paid : Status.PartiallyPaid;
    }

    /// @dev Pays out a booked settlement from the caller (the buyer) and announces it.
    function _settle(address currency, Settlement memory s) private {
        uint256 reserve = s.amount - s.toHolder;
        if (s.toHolder != 0) _pay(currency, msg.sender, s.holder, s.toHolder);
        if (reserve != 0) _pay(currency, msg.sender, s.seller, reserve);
        emit InvoiceRepaid(s.invoiceId, msg.sender, s.holder, s.amount, s.toHolder, s.totalPaid);
        if (reserve != 0) emit ReserveReleased(s.invoiceId, s.seller, reserve);
    }

    function _requireBuyer(uint256 invoiceId, Record storage r) private view {
        address buyer = registry.accountOf(r.buyerId);
        if (msg.sender != buyer) revert NotInvoiceBuyer(invoiceId, msg.sender, buyer);
        // No registry check: suspension and KYC lapse stop new business, never a payment.
    }

    /// @dev The root of `id`'s tree (itself for a root).
    function _rootOf(uint256 id) private view returns (uint256) {
        uint256 root = _lineage[id].root;
        return root == 0 ? id : root;
    }

    /// @dev Whether `id` is `ancestor` or lies below it (at most MAX_DEPTH steps up).
    function _descends(uint256 id, uint256 ancestor) private view returns (bool) {
        while (id != ancestor) {
            id = _lineage[id].parent;
            if (id == 0) return false;
        }
        return true;
    }

    /// @inheritdoc IInvoiceToken
    function setCurrencyAccepted(address currency, bool accepted) external onlyRole(CURRENCY_MANAGER_ROLE) {
        CurrencyInfo storage info = _currencies[currency];
        if (info.id == 0) {
            // Ids count from 1 and are never reused, so a stored invoice's currency never changes.
            uint16 id = ++_currencyCount;
            info.id = id;
            _currencyById[id] = currency;
        }
        info.accepted = accepted;
        emit CurrencyAcceptanceChanged(currency, info.id, accepted);
    }

    /// @inheritdoc IInvoiceToken
    function setMaxTenor(uint64 maxTenor_) external onlyRole(OPERATOR_ROLE) {
        if (maxTenor_ < 1 days) revert InvalidMaxTenor(maxTenor_);
        _counters.maxTenor = maxTenor_;
        emit MaxTenorChanged(maxTenor_);
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
        Record storage r = _existing(invoiceId);
        return Invoice({
            supplier: registry.accountOf(r.supplierId),
            buyer: registry.accountOf(r.buyerId),
            currency: _currencyById[r.currencyId],
            dueDate: r.dueDate,
            status: r.status,
            amount: r.amount,
            paid: r.paid,
            seller: r.seller,
            financierDue: r.financierDue,
            financierPaid: r.financierPaid
        });
    }

    /// @inheritdoc IInvoiceToken
    function getListing(uint256 invoiceId) external view returns (Listing memory) {
        StoredListing memory l = _listings[invoiceId];
        return Listing(l.financier, l.expiry, l.minAdvance);
    }

    /// @inheritdoc IInvoiceToken
    function getLineage(uint256 invoiceId) external view returns (Lineage memory) {
        _existing(invoiceId);
        StoredLineage memory l = _lineage[invoiceId];
        if (l.root == 0) return Lineage(0, invoiceId, 0);
        return Lineage(l.parent, l.root, l.depth);
    }

    /// @inheritdoc IInvoiceToken
    function partsOf(uint256 rootId) external view returns (uint256[] memory ids) {
        uint64[] storage tree = _parts[rootId];
        ids = new uint256[](tree.length);
        for (uint256 i; i < ids.length; ++i) {
            ids[i] = tree[i];
        }
    }

    /// @inheritdoc IInvoiceToken
    function invoiceIdOf(address supplier, string calldata number) external view returns (uint256) {
        return _invoiceByKey[keccak256(abi.encodePacked(supplier, InvoiceNumbers.normalise(number)))];
    }

    /// @inheritdoc IInvoiceToken
    function normaliseNumber(string calldata number) external pure returns (bytes memory) {
        return InvoiceNumbers.normalise(number);
    }

    /// @inheritdoc IInvoiceToken
    function currencyAccepted(address currency) external view returns (bool) {
        return _currencies[currency].accepted;
    }

    /// @inheritdoc IInvoiceToken
    function nextInvoiceId() external view returns (uint256) {
        return _counters.nextInvoiceId;
    }

    /// @inheritdoc IInvoiceToken
    function maxTenor() external view returns (uint64) {
        return _counters.maxTenor;
    }

    /// @inheritdoc IInvoiceToken
    function version() external pure returns (uint256) {
        return 3;
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
            Status status = _records[tokenId].status;
            if (status != Status.Confirmed && status != Status.Financed && status != Status.PartiallyPaid) {
                revert InvoiceNotTransferable(tokenId, status);
            }
            registry.requireActive(from, ANY_ROLE);
            registry.requireActive(to, ANY_ROLE);
            if (_listings[tokenId].expiry != 0) {
                // Consent was given by the old holder: it must not revive if the token comes back.
                delete _listings[tokenId];
                emit FinancingOfferWithdrawn(tokenId, from);
            }
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

    /// @dev Moves `amount` of `currency` and checks that `to` received exactly that,
    /// so recorded amounts are always received amounts.
    function _pay(address currency, address from, address to, uint256 amount) private {
        if (from == to) return; // a holder paying itself moves nothing
        IERC20 token = IERC20(currency);
        uint256 before = token.balanceOf(to);
        token.safeTransferFrom(from, to, amount);
        uint256 balance = token.balanceOf(to);
        if (balance < before || balance - before != amount) {
            revert SettlementShortfall(currency, to, amount, balance < before ? 0 : balance - before);
        }
    }

    function _requireFinanceable(uint256 invoiceId, Status status) private pure {
        if (status != Status.Confirmed && status != Status.PartiallyPaid) revert InvoiceNotConfirmed(invoiceId, status);
    }

    function _existing(uint256 invoiceId) private view returns (Record storage r) {
        r = _records[invoiceId];
        if (r.status == Status.None) revert InvoiceNotFound(invoiceId);
    }
}
