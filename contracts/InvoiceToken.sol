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

/// @title InvoiceToken
/// @notice Receivables of an SCF network; see {IInvoiceToken}.
/// @dev Storage keeps only what a rule reads (the invoice number, document
/// hash and advance live in events). Parties are stored as the registry's
/// participant ids, so an issued invoice is one slot (plus the identity key
/// and ERC-721's owner); a financed one three.
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

    /// @dev The longest invoice number, in bytes of UTF-8.
    uint256 private constant MAX_NUMBER_BYTES = 64;

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
        bytes memory normalised = _normalise(number);
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
        Record storage r = _existing(invoiceId);
        address buyer = registry.accountOf(r.buyerId);
        if (msg.sender != buyer) revert NotInvoiceBuyer(invoiceId, msg.sender, buyer);
        // No registry check: suspension and KYC lapse stop new business, never a payment.
        Status status = r.status;
        if (status != Status.Confirmed && status != Status.Financed && status != Status.PartiallyPaid) {
            revert InvoiceNotPayable(invoiceId, status);
        }
        uint256 outstanding = r.amount - r.paid;
        if (amount == 0 || amount > outstanding) revert InvalidRepayment(invoiceId, amount, outstanding);

        address holder = _ownerOf(invoiceId);
        address seller = r.seller;
        uint256 toHolder = amount;
        if (seller != address(0)) {
            // Waterfall: the financier side first, up to its due; the reserve to the seller.
            uint256 owed = uint256(r.financierDue) - r.financierPaid;
            if (toHolder > owed) toHolder = owed;
            r.financierPaid += uint96(toHolder);
        }
        uint256 totalPaid = r.paid + amount;
        r.paid = uint96(totalPaid);
        r.status = totalPaid == r.amount ? Status.Paid : Status.PartiallyPaid;
        address currency = _currencyById[r.currencyId];
        if (toHolder != 0) _pay(currency, msg.sender, holder, toHolder);
        if (amount != toHolder) _pay(currency, msg.sender, seller, amount - toHolder);
        emit InvoiceRepaid(invoiceId, msg.sender, holder, amount, toHolder, totalPaid);
        if (amount != toHolder) emit ReserveReleased(invoiceId, seller, amount - toHolder);
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
    function invoiceIdOf(address supplier, string calldata number) external view returns (uint256) {
        return _invoiceByKey[keccak256(abi.encodePacked(supplier, _normalise(number)))];
    }

    /// @inheritdoc IInvoiceToken
    function normaliseNumber(string calldata number) external pure returns (bytes memory) {
        return _normalise(number);
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
        return 2;
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

    /// @dev The ASCII stand-in of the multi-byte character at `b[i]` (lead byte `c`) and its
    /// length: full-width ASCII becomes ASCII; blank, invisible and dash-like characters become
    /// a space (a separator); a C1 control character becomes 0x7F (refused); anything else is
    /// kept, one byte at a time.
    function _fold(bytes calldata b, uint256 i, uint8 c) private pure returns (uint8, uint256) {
        uint256 n = b.length;
        if (c == 0xC2 && i + 1 < n) {
            uint8 d = uint8(b[i + 1]);
            if (d < 0xA0) return (0x7F, 2); // U+0080..U+009F
            if (d == 0xA0 || d == 0xAD) return (0x20, 2); // no-break space, soft hyphen
        } else if (i + 2 < n) {
            uint8 c1 = uint8(b[i + 1]);
            uint8 c2 = uint8(b[i + 2]);
            if (c == 0xEF) {
                // U+FF01..U+FF3F is EF BC 81..BF, U+FF40..U+FF5E is EF BD 80..9E.
                if (c1 == 0xBC && c2 >= 0x81 && c2 <= 0xBF) return (c2 - 0x60, 3);
                if (c1 == 0xBD && c2 >= 0x80 && c2 <= 0x9E) return (c2 - 0x20, 3);
                if (c1 == 0xBB && c2 == 0xBF) return (0x20, 3); // byte-order mark
            } else if (c == 0xE2) {
                // U+2000..U+2015 spaces, zero-width characters, direction marks, hyphens and dashes;
                // U+2028..U+202F separators, bidi controls, narrow no-break space;
                // U+205F..U+206F word joiner, invisible operators, bidi isolates; U+2212 minus sign.
                if (
                    (c1 == 0x80 && (c2 <= 0x95 || (c2 >= 0xA8 && c2 <= 0xAF)))
                        || (c1 == 0x81 && c2 >= 0x9F && c2 <= 0xAF) || (c1 == 0x88 && c2 == 0x92)
                ) return (0x20, 3);
            } else if (c == 0xE3 && c1 == 0x80 && c2 == 0x80) {
                return (0x20, 3); // ideographic space
            }
        }
        return (c, 1);
    }

    /// @dev The normal form of an invoice number (rules in {IInvoiceToken}).
    function _normalise(string calldata number) private pure returns (bytes memory out) {
        bytes calldata b = bytes(number);
        uint256 n = b.length;
        if (n == 0 || n > MAX_NUMBER_BYTES) revert InvalidInvoiceNumber(number);
        out = new bytes(n);
        uint256 len;
        bool inRun; // inside a run of digits
        bool zeros; // the run so far holds only zeros (none written yet)
        for (uint256 i; i < n;) {
            uint8 c = uint8(b[i]);
            uint256 step = 1;
            if (c >= 0xC2 && c <= 0xEF) (c, step) = _fold(b, i, c);
            if (c >= 0x30 && c <= 0x39) {
                if (!inRun) {
                    inRun = true;
                    zeros = true;
                }
                if (!zeros || c != 0x30) {
                    zeros = false;
                    out[len++] = bytes1(c);
                }
            } else if (c < 0x20 || c == 0x7F) {
                revert InvalidInvoiceNumber(number);
            } else if (c >= 0x80 || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)) {
                if (inRun && zeros) out[len++] = "0";
                inRun = false;
                out[len++] = bytes1(c >= 0x61 && c <= 0x7A ? c - 0x20 : c);
            }
            // Any other ASCII character is a separator: ignored, as if absent.
            unchecked {
                i += step;
            }
        }
        if (inRun && zeros) out[len++] = "0";
        if (len == 0) revert InvalidInvoiceNumber(number);
        assembly ("memory-safe") {
            mstore(out, len)
        }
    }
}
