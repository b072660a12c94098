// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IInvoiceToken} from "./interfaces/IInvoiceToken.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {State, Record, ReceivableRules} from "./ReceivableState.sol";

/// @title Remedies
/// @notice When things go wrong, without money moving: disputes, maturity
/// extensions, defaults and write-offs of {InvoiceToken}. A linked library run by
/// DELEGATECALL on the token's storage (its events are the token's, its errors
/// {IInvoiceToken}'s); it keeps the token under the EIP-170 size limit. Only an
/// extension is new business and needs active parties; the rest enforce terms
/// already agreed and are open to suspended and KYC-lapsed parties, as repayment is.
library Remedies {
    using ReceivableRules for State;

    uint8 private constant ANY_ROLE = 0;
    uint8 private constant BUYER = 2;

    /// @notice {IInvoiceToken-dispute}; `holder` holds the receivable.
    function dispute(State storage s, IParticipantRegistry registry, uint256 invoiceId, bytes32 reason, address holder)
        external
    {
        Record storage r = s.existing(invoiceId);
        address buyer = _requireBuyer(registry, invoiceId, r);
        IInvoiceToken.Status status = r.status;
        if (!ReceivableRules.isOpen(status)) revert IInvoiceToken.InvoiceNotOpen(invoiceId, status);
        r.disputedFrom = status;
        r.status = IInvoiceToken.Status.Disputed;
        s.clearListing(invoiceId, holder);
        emit IInvoiceToken.InvoiceDisputed(invoiceId, buyer, reason, status);
    }

    /// @notice {IInvoiceToken-withdrawDispute}.
    function withdrawDispute(State storage s, IParticipantRegistry registry, uint256 invoiceId) external {
        Record storage r = s.existing(invoiceId);
        address buyer = _requireBuyer(registry, invoiceId, r);
        if (r.status != IInvoiceToken.Status.Disputed) revert IInvoiceToken.InvoiceNotDisputed(invoiceId, r.status);
        IInvoiceToken.Status restored = r.disputedFrom;
        r.status = restored;
        r.disputedFrom = IInvoiceToken.Status.None;
        emit IInvoiceToken.DisputeWithdrawn(invoiceId, buyer, restored);
    }

    /// @notice {IInvoiceToken-proposeExtension}.
    function proposeExtension(State storage s, IParticipantRegistry registry, uint256 invoiceId, uint64 newDueDate)
        external
    {
        Record storage r = s.existing(invoiceId);
        address buyer = _requireBuyer(registry, invoiceId, r);
        registry.requireActive(buyer, BUYER);
        if (!ReceivableRules.isOpen(r.status)) revert IInvoiceToken.InvoiceNotOpen(invoiceId, r.status);
        uint256 latest = block.timestamp + s.counters.maxTenor;
        if (newDueDate <= r.dueDate || newDueDate > latest) {
            revert IInvoiceToken.InvalidExtension(invoiceId, newDueDate, r.dueDate, latest);
        }
        s.proposedDueDates[invoiceId] = newDueDate;
        emit IInvoiceToken.ExtensionProposed(invoiceId, buyer, r.dueDate, newDueDate);
    }

    /// @notice {IInvoiceToken-acceptExtension}; `holder` holds the receivable.
    function acceptExtension(
        State storage s,
        IParticipantRegistry registry,
        uint256 invoiceId,
        uint64 newDueDate,
        address holder
    ) external {
        Record storage r = s.existing(invoiceId);
        _requireHolder(invoiceId, holder);
        registry.requireActive(holder, ANY_ROLE);
        if (!ReceivableRules.isOpen(r.status)) revert IInvoiceToken.InvoiceNotOpen(invoiceId, r.status);
        uint64 proposed = s.proposedDueDates[invoiceId];
        if (proposed == 0 || proposed != newDueDate) {
            revert IInvoiceToken.ExtensionNotProposed(invoiceId, newDueDate, proposed);
        }
        uint64 old = r.dueDate;
        r.dueDate = newDueDate;
        delete s.proposedDueDates[invoiceId];
        emit IInvoiceToken.MaturityExtended(invoiceId, holder, old, newDueDate);
    }

    /// @notice {IInvoiceToken-declareDefault}; `holder` holds the receivable.
    function declareDefault(State storage s, uint256 invoiceId, address holder) external {
        Record storage r = s.existing(invoiceId);
        _requireHolder(invoiceId, holder);
        IInvoiceToken.Status status = r.status;
        if (!ReceivableRules.isOpen(status)) revert IInvoiceToken.InvoiceNotOpen(invoiceId, status);
        uint256 grace = r.seller == address(0) ? s.counters.gracePeriod : r.gracePeriod;
        uint256 after_ = uint256(r.dueDate) + grace;
        if (block.timestamp <= after_) revert IInvoiceToken.DefaultBeforeGrace(invoiceId, after_, block.timestamp);
        // A default is the holder's: a financier paid in full has no claim to default (the
        // seller's unpaid reserve is the seller's to chase, not the financier's to declare).
        uint256 claim = ReceivableRules.holderClaim(r, holder);
        if (claim == 0) revert IInvoiceToken.NothingOwed(invoiceId);
        r.status = IInvoiceToken.Status.Defaulted;
        delete s.proposedDueDates[invoiceId];
        s.clearListing(invoiceId, holder);
        emit IInvoiceToken.InvoiceDefaulted(invoiceId, holder, r.amount - r.paid, claim);
    }

    /// @notice {IInvoiceToken-writeOff}; `holder` holds the receivable.
    function writeOff(State storage s, uint256 invoiceId, address holder) external {
        Record storage r = s.existing(invoiceId);
        _requireHolder(invoiceId, holder);
        if (r.status != IInvoiceToken.Status.Defaulted) {
            revert IInvoiceToken.InvoiceNotDefaulted(invoiceId, r.status);
        }
        uint256 claim = ReceivableRules.holderClaim(r, holder);
        if (claim == 0) revert IInvoiceToken.NothingOwed(invoiceId);
        r.status = IInvoiceToken.Status.WrittenOff;
        emit IInvoiceToken.InvoiceWrittenOff(invoiceId, holder, claim);
    }

    function _requireBuyer(IParticipantRegistry registry, uint256 invoiceId, Record storage r)
        private
        view
        returns (address buyer)
    {
        buyer = registry.accountOf(r.buyerId);
        if (msg.sender != buyer) revert IInvoiceToken.NotInvoiceBuyer(invoiceId, msg.sender, buyer);
    }

    function _requireHolder(uint256 invoiceId, address holder) private view {
        if (msg.sender != holder) revert IInvoiceToken.NotInvoiceHolder(invoiceId, msg.sender, holder);
    }
}
