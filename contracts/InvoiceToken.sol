// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IInvoiceToken} from "./interfaces/IInvoiceToken.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";

/// @title InvoiceToken
/// @notice Receivables of an SCF network; see {IInvoiceToken}.
contract InvoiceToken is IInvoiceToken, ERC721, AccessControl, Pausable, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice Pauses the contract and manages accepted currencies.
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");

    // Role bits of the registry (see IParticipantRegistry).
    uint8 private constant ANY_ROLE = 0;
    uint8 private constant SUPPLIER = 1;
    uint8 private constant BUYER = 2;
    uint8 private constant FINANCIER = 4;

    struct Offer {
        address holder;
        address financier;
        uint64 expiry;
        uint256 minAdvance;
    }

    /// @notice The registry that says who may act.
    IParticipantRegistry public immutable registry;

    /// @inheritdoc IInvoiceToken
    uint256 public nextInvoiceId = 1;

    mapping(uint256 invoiceId => Invoice) private _invoices;
    mapping(uint256 invoiceId => Offer) private _offers;

    /// @inheritdoc IInvoiceToken
    mapping(bytes32 fingerprint => uint256 invoiceId) public invoiceByFingerprint;

    /// @inheritdoc IInvoiceToken
    mapping(address currency => bool) public currencyAccepted;

    constructor(IParticipantRegistry registry_, address operator) ERC721("SCF Invoice Receivable", "SCFINV") {
        registry = registry_;
        _grantRole(DEFAULT_ADMIN_ROLE, operator);
        _grantRole(OPERATOR_ROLE, operator);
    }

    /// @inheritdoc IInvoiceToken
    function issue(
        address buyer,
        uint256 amount,
        address currency,
        uint64 dueDate,
        bytes32 fingerprint,
        bytes32 docHash
    ) external whenNotPaused returns (uint256 invoiceId) {
        registry.requireActive(msg.sender, SUPPLIER);
        registry.requireActive(buyer, BUYER);
        if (buyer == msg.sender) revert InvalidBuyer(buyer);
        if (amount == 0 || amount > type(uint128).max) revert InvalidAmount(amount);
        if (dueDate <= block.timestamp) revert InvalidDueDate(dueDate, block.timestamp);
        if (!currencyAccepted[currency]) revert CurrencyNotAccepted(currency);
        if (fingerprint == bytes32(0)) revert InvalidFingerprint(fingerprint);
        uint256 existing = invoiceByFingerprint[fingerprint];
        if (existing != 0) revert DuplicateInvoice(fingerprint, existing);

        invoiceId = nextInvoiceId++;
        invoiceByFingerprint[fingerprint] = invoiceId;
        _invoices[invoiceId] = Invoice({
            supplier: msg.sender,
            dueDate: dueDate,
            status: Status.Issued,
            buyer: buyer,
            issuedAt: uint64(block.timestamp),
            currency: currency,
            financier: address(0),
            amount: uint128(amount),
            paid: 0,
            advance: 0,
            fingerprint: fingerprint,
            docHash: docHash
        });
        _mint(msg.sender, invoiceId);
        emit InvoiceIssued(invoiceId, msg.sender, buyer, currency, amount, dueDate, fingerprint, docHash);
    }

    /// @inheritdoc IInvoiceToken
    function confirm(uint256 invoiceId) external whenNotPaused {
        Invoice storage inv = _existing(invoiceId);
        if (msg.sender != inv.buyer) revert NotInvoiceBuyer(invoiceId, msg.sender, inv.buyer);
        registry.requireActive(msg.sender, BUYER);
        if (inv.status != Status.Issued) revert InvoiceNotIssued(invoiceId, inv.status);
        inv.status = Status.Confirmed;
        emit InvoiceConfirmed(invoiceId, msg.sender);
    }

    /// @inheritdoc IInvoiceToken
    function cancel(uint256 invoiceId) external whenNotPaused {
        Invoice storage inv = _existing(invoiceId);
        if (msg.sender != inv.supplier) revert NotInvoiceSupplier(invoiceId, msg.sender, inv.supplier);
        registry.requireActive(msg.sender, SUPPLIER);
        if (inv.status != Status.Issued) revert InvoiceNotIssued(invoiceId, inv.status);
        inv.status = Status.Cancelled;
        // The fingerprint stays registered: a cancelled invoice never frees it.
        _burn(invoiceId);
        emit InvoiceCancelled(invoiceId, msg.sender);
    }

    /// @inheritdoc IInvoiceToken
    function offerForFinancing(uint256 invoiceId, address financier, uint256 minAdvance, uint64 expiry)
        external
        whenNotPaused
    {
        Invoice storage inv = _existing(invoiceId);
        address holder = _ownerOf(invoiceId);
        if (msg.sender != holder) revert NotInvoiceHolder(invoiceId, msg.sender, holder);
        registry.requireActive(msg.sender, ANY_ROLE);
        if (inv.financier != address(0)) revert InvoiceAlreadyFinanced(invoiceId, inv.financier);
        if (inv.status != Status.Confirmed) revert InvoiceNotConfirmed(invoiceId, inv.status);
        if (expiry <= block.timestamp) revert InvalidOfferExpiry(invoiceId, expiry);
        _offers[invoiceId] = Offer(holder, financier, expiry, minAdvance);
        emit FinancingOffered(invoiceId, holder, financier, minAdvance, expiry);
    }

    /// @inheritdoc IInvoiceToken
    function withdrawOffer(uint256 invoiceId) external whenNotPaused {
        _existing(invoiceId);
        address holder = _ownerOf(invoiceId);
        if (msg.sender != holder) revert NotInvoiceHolder(invoiceId, msg.sender, holder);
        delete _offers[invoiceId];
        emit FinancingOfferWithdrawn(invoiceId, holder);
    }

    /// @inheritdoc IInvoiceToken
    function finance(
        uint256 invoiceId,
        uint256 advance,
        uint256 expectedAmount,
        uint64 expectedDueDate,
        uint256 deadline
    ) external whenNotPaused nonReentrant {
        registry.requireActive(msg.sender, FINANCIER);
        if (block.timestamp > deadline) revert FinancingDeadlinePassed(invoiceId, deadline, block.timestamp);
        Invoice storage inv = _existing(invoiceId);
        if (inv.financier != address(0)) revert InvoiceAlreadyFinanced(invoiceId, inv.financier);
        if (inv.status != Status.Confirmed) revert InvoiceNotConfirmed(invoiceId, inv.status);
        if (inv.amount != expectedAmount || inv.dueDate != expectedDueDate) {
            revert FinancingTermsChanged(invoiceId, expectedAmount, inv.amount, expectedDueDate, inv.dueDate);
        }
        if (block.timestamp >= inv.dueDate) revert InvoiceMatured(invoiceId, inv.dueDate);
        uint256 outstanding = inv.amount - inv.paid;
        if (advance == 0 || advance > outstanding) revert InvalidAdvance(invoiceId, advance, outstanding);

        address seller = _ownerOf(invoiceId);
        registry.requireActive(seller, ANY_ROLE);
        // Consent of the holder: a standing ERC-721 approval, or a live listing
        // for this financier whose asking advance is met.
        if (!_isAuthorized(seller, msg.sender, invoiceId)) {
            Offer storage offer = _offers[invoiceId];
            bool listed = offer.holder == seller && block.timestamp <= offer.expiry
                && (offer.financier == address(0) || offer.financier == msg.sender);
            if (!listed) revert FinancingNotAuthorized(invoiceId, seller, msg.sender);
            if (advance < offer.minAdvance) revert AdvanceBelowAsk(invoiceId, advance, offer.minAdvance);
        }

        inv.financier = msg.sender;
        inv.advance = advance;
        inv.status = Status.Financed;
        delete _offers[invoiceId];
        // Delivery versus payment: both legs in this transaction or neither.
        _transfer(seller, msg.sender, invoiceId);
        IERC20(inv.currency).safeTransferFrom(msg.sender, seller, advance);
        emit InvoiceFinanced(invoiceId, msg.sender, seller, advance);
    }

    /// @inheritdoc IInvoiceToken
    function repay(uint256 invoiceId, uint256 amount) external whenNotPaused nonReentrant {
        Invoice storage inv = _existing(invoiceId);
        if (msg.sender != inv.buyer) revert NotInvoiceBuyer(invoiceId, msg.sender, inv.buyer);
        registry.requireActive(msg.sender, BUYER);
        Status status = inv.status;
        if (status != Status.Confirmed && status != Status.Financed && status != Status.PartiallyPaid) {
            revert InvoiceNotPayable(invoiceId, status);
        }
        uint256 outstanding = inv.amount - inv.paid;
        if (amount == 0 || amount > outstanding) revert InvalidRepayment(invoiceId, amount, outstanding);

        address payee = _ownerOf(invoiceId);
        uint128 totalPaid = inv.paid + uint128(amount);
        inv.paid = totalPaid;
        inv.status = totalPaid == inv.amount ? Status.Paid : Status.PartiallyPaid;
        // A partly paid invoice can no longer be listed on its old terms.
        delete _offers[invoiceId];
        IERC20(inv.currency).safeTransferFrom(msg.sender, payee, amount);
        emit InvoiceRepaid(invoiceId, msg.sender, payee, amount, totalPaid);
    }

    /// @inheritdoc IInvoiceToken
    function setCurrencyAccepted(address currency, bool accepted) external onlyRole(OPERATOR_ROLE) {
        currencyAccepted[currency] = accepted;
        emit CurrencyAcceptanceChanged(currency, accepted);
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
        return _existing(invoiceId);
    }

    /// @notice ERC-165: both ERC-721 and AccessControl answer.
    function supportsInterface(bytes4 interfaceId) public view override(ERC721, AccessControl) returns (bool) {
        return super.supportsInterface(interfaceId);
    }

    /// @dev Every holder change except mint and burn is a transfer of a
    /// receivable: only live receivables move, only between active
    /// participants, and never while paused.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address) {
        address from = _ownerOf(tokenId);
        if (from != address(0) && to != address(0)) {
            _requireNotPaused();
            Status status = _invoices[tokenId].status;
            if (status != Status.Confirmed && status != Status.Financed && status != Status.PartiallyPaid) {
                revert InvoiceNotTransferable(tokenId, status);
            }
            registry.requireActive(from, ANY_ROLE);
            registry.requireActive(to, ANY_ROLE);
        }
        return super._update(to, tokenId, auth);
    }

    function _existing(uint256 invoiceId) private view returns (Invoice storage inv) {
        inv = _invoices[invoiceId];
        if (inv.status == Status.None) revert InvoiceNotFound(invoiceId);
    }
}
