// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IInvoiceToken} from "./interfaces/IInvoiceToken.sol";

/// @dev The storage of {InvoiceToken}, in one struct so that its linked libraries
/// ({Settlement}, {Remedies}) work on the token's own storage by pointer (they run by
/// DELEGATECALL: one address, one storage, one event log). Storage keeps only what
/// a rule reads; the invoice number, document hash, advance, reasons and write-offs
/// live in events.

/// @dev One receivable. Parties are the registry's participant ids.
struct Record {
    // slot 0: written at issue, and by disputes, credit notes and extensions
    uint32 supplierId;
    uint32 buyerId;
    uint96 amount;
    uint64 dueDate;
    IInvoiceToken.Status status;
    uint16 currencyId;
    IInvoiceToken.Status disputedFrom;
    // slot 1: written by repayments and at financing
    uint96 paid;
    uint96 financierDue;
    uint32 gracePeriod;
    bool recourse;
    // slot 2: written at financing and by repayments of a financed invoice
    address seller;
    uint96 financierPaid;
}

struct StoredListing {
    address financier;
    uint64 expiry;
    bool recourse;
    uint96 minAdvance;
}

struct CurrencyInfo {
    uint16 id;
    bool accepted;
}

/// @dev Where a part sits in its tree, in one slot; a root has none stored (parent 0).
struct StoredLineage {
    uint64 parent;
    uint64 root;
    uint8 depth;
    // Parts this part may still make below it (a root's is MAX_TREE_PARTS, not stored).
    uint8 budget;
}

/// @dev One slot read by every issue (and by defaults of unfinanced receivables).
struct Counters {
    uint64 nextInvoiceId;
    uint64 maxTenor;
    uint32 gracePeriod;
}

struct State {
    Counters counters;
    uint16 currencyCount;
    mapping(uint256 invoiceId => Record) records;
    mapping(uint256 invoiceId => StoredListing) listings;
    mapping(bytes32 key => uint256 invoiceId) invoiceByKey;
    mapping(address currency => CurrencyInfo) currencies;
    mapping(uint16 currencyId => address) currencyById;
    mapping(uint256 partId => StoredLineage) lineage;
    mapping(uint256 rootId => uint64[]) parts;
    mapping(uint256 invoiceId => uint64 dueDate) proposedDueDates;
    // Used or revoked nonces of buyers' signed confirmations: bitmap words of 256 nonces.
    mapping(address buyer => mapping(uint256 word => uint256 bits)) confirmationNonces;
}

/// @dev Reads shared by the token and its libraries.
library ReceivableRules {
    /// @dev The record of an existing receivable (InvoiceNotFound otherwise).
    function existing(State storage s, uint256 invoiceId) internal view returns (Record storage r) {
        r = s.records[invoiceId];
        if (r.status == IInvoiceToken.Status.None) revert IInvoiceToken.InvoiceNotFound(invoiceId);
    }

    /// @dev Confirmed, Financed or PartiallyPaid: a live receivable that may move, be
    /// disputed, extended or defaulted.
    function isOpen(IInvoiceToken.Status status) internal pure returns (bool) {
        return status == IInvoiceToken.Status.Confirmed || status == IInvoiceToken.Status.Financed
            || status == IInvoiceToken.Status.PartiallyPaid;
    }

    /// @dev Clears a listing, announcing it, if there is one (consent does not survive a change).
    function clearListing(State storage s, uint256 invoiceId, address holder) internal {
        if (s.listings[invoiceId].expiry != 0) {
            delete s.listings[invoiceId];
            emit IInvoiceToken.FinancingOfferWithdrawn(invoiceId, holder);
        }
    }

    /// @dev What the buyer's open amount owes `holder`: all of it unless a financier
    /// (not the seller) holds it, which is owed the rest of its due.
    function holderClaim(Record storage r, address holder) internal view returns (uint256) {
        if (r.seller == address(0) || r.seller == holder) return r.amount - r.paid;
        return uint256(r.financierDue) - r.financierPaid;
    }
}
