// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Invoice receivables as ERC-721 tokens
/// @notice A supplier issues an invoice to a buyer; the buyer confirms it; the
/// holder of the token is the party the buyer pays. A financier funds a
/// confirmed invoice once, ever, by delivery versus payment: the advance moves
/// from financier to holder and the receivable from holder to financier in one
/// transaction. Every state change emits an event that carries enough data to
/// rebuild the ledger from logs alone (together with ERC-721 `Transfer`).
interface IInvoiceToken {
    /// @notice Lifecycle states. Numbering is part of the ABI: append only.
    enum Status {
        None,
        Issued,
        Confirmed,
        Financed,
        PartiallyPaid,
        Paid,
        Cancelled
    }

    /// @notice On-chain state of one invoice.
    struct Invoice {
        address supplier;
        uint64 dueDate;
        Status status;
        address buyer;
        uint64 issuedAt;
        address currency;
        address financier;
        uint128 amount;
        uint128 paid;
        uint256 advance;
        bytes32 fingerprint;
        bytes32 docHash;
    }

    /// @notice No invoice has id `invoiceId`.
    error InvoiceNotFound(uint256 invoiceId);
    /// @notice The same invoice (by fingerprint) was issued before, by anyone;
    /// cancelled invoices keep their fingerprint forever.
    error DuplicateInvoice(bytes32 fingerprint, uint256 existingInvoiceId);
    /// @notice The fingerprint is zero.
    error InvalidFingerprint(bytes32 fingerprint);
    /// @notice The amount is zero or above 2^128-1 minor units.
    error InvalidAmount(uint256 amount);
    /// @notice The due date is not after the issue time.
    error InvalidDueDate(uint64 dueDate, uint256 nowTimestamp);
    /// @notice The buyer cannot be the supplier.
    error InvalidBuyer(address buyer);
    /// @notice The settlement currency is not accepted by the operator.
    error CurrencyNotAccepted(address currency);
    /// @notice The operation needs an invoice in status Issued.
    error InvoiceNotIssued(uint256 invoiceId, Status status);
    /// @notice Financing needs a confirmed invoice.
    error InvoiceNotConfirmed(uint256 invoiceId, Status status);
    /// @notice The invoice was financed before (one financing per invoice, ever).
    error InvoiceAlreadyFinanced(uint256 invoiceId, address financier);
    /// @notice Repayment needs a confirmed, financed or partly paid invoice.
    error InvoiceNotPayable(uint256 invoiceId, Status status);
    /// @notice Only confirmed, unpaid receivables change hands.
    error InvoiceNotTransferable(uint256 invoiceId, Status status);
    /// @notice The caller is not the invoice's buyer.
    error NotInvoiceBuyer(uint256 invoiceId, address account, address buyer);
    /// @notice The caller is not the invoice's supplier.
    error NotInvoiceSupplier(uint256 invoiceId, address account, address supplier);
    /// @notice The caller does not hold the invoice.
    error NotInvoiceHolder(uint256 invoiceId, address account, address holder);
    /// @notice The invoice differs from the terms the financier priced.
    error FinancingTermsChanged(
        uint256 invoiceId, uint256 expectedAmount, uint256 amount, uint64 expectedDueDate, uint64 dueDate
    );
    /// @notice The financier's deadline for these terms has passed.
    error FinancingDeadlinePassed(uint256 invoiceId, uint256 deadline, uint256 nowTimestamp);
    /// @notice A matured invoice is collected, not financed.
    error InvoiceMatured(uint256 invoiceId, uint64 dueDate);
    /// @notice The advance is zero or above the open amount.
    error InvalidAdvance(uint256 invoiceId, uint256 advance, uint256 outstanding);
    /// @notice The advance is below what the holder asked for when listing.
    error AdvanceBelowAsk(uint256 invoiceId, uint256 advance, uint256 minAdvance);
    /// @notice The holder neither approved this financier nor listed the
    /// invoice for it.
    error FinancingNotAuthorized(uint256 invoiceId, address holder, address financier);
    /// @notice A listing's expiry is not in the future.
    error InvalidOfferExpiry(uint256 invoiceId, uint64 expiry);
    /// @notice The repayment is zero or above the open amount.
    error InvalidRepayment(uint256 invoiceId, uint256 amount, uint256 outstanding);

    /// @notice Emitted when `supplier` issues invoice `invoiceId` to `buyer`.
    event InvoiceIssued(
        uint256 indexed invoiceId,
        address indexed supplier,
        address indexed buyer,
        address currency,
        uint256 amount,
        uint64 dueDate,
        bytes32 fingerprint,
        bytes32 docHash
    );
    /// @notice Emitted when the buyer accepts the invoice as a promise to pay.
    event InvoiceConfirmed(uint256 indexed invoiceId, address indexed buyer);
    /// @notice Emitted when the supplier cancels an unconfirmed invoice (the
    /// token is burnt; the fingerprint stays used).
    event InvoiceCancelled(uint256 indexed invoiceId, address indexed supplier);
    /// @notice Emitted when the holder lists a confirmed invoice for financing.
    /// `financier` zero means any financier.
    event FinancingOffered(
        uint256 indexed invoiceId, address indexed holder, address indexed financier, uint256 minAdvance, uint64 expiry
    );
    /// @notice Emitted when the holder withdraws its listing.
    event FinancingOfferWithdrawn(uint256 indexed invoiceId, address indexed holder);
    /// @notice Emitted when `financier` pays `advance` to `seller` and takes the receivable.
    event InvoiceFinanced(uint256 indexed invoiceId, address indexed financier, address indexed seller, uint256 advance);
    /// @notice Emitted when the buyer pays `amount` to the holder `payee`;
    /// `totalPaid` is the running total.
    event InvoiceRepaid(
        uint256 indexed invoiceId, address indexed payer, address indexed payee, uint256 amount, uint256 totalPaid
    );
    /// @notice Emitted when the operator accepts or stops accepting a settlement currency.
    event CurrencyAcceptanceChanged(address indexed currency, bool accepted);

    /// @notice Issue an invoice as the calling supplier; returns its id (from 1).
    /// @param fingerprint Hash of the normalised invoice identity; unique forever.
    /// @param docHash Hash of the invoice document, which stays off chain.
    function issue(
        address buyer,
        uint256 amount,
        address currency,
        uint64 dueDate,
        bytes32 fingerprint,
        bytes32 docHash
    ) external returns (uint256 invoiceId);

    /// @notice Accept the invoice as its buyer.
    function confirm(uint256 invoiceId) external;

    /// @notice Cancel an unconfirmed invoice as its supplier.
    function cancel(uint256 invoiceId) external;

    /// @notice List a confirmed invoice for financing, as its holder.
    /// @param financier Only this financier may take it; zero for any.
    /// @param minAdvance The least advance the holder accepts.
    /// @param expiry Unix time after which the listing lapses.
    function offerForFinancing(uint256 invoiceId, address financier, uint256 minAdvance, uint64 expiry) external;

    /// @notice Withdraw a listing, as the holder.
    function withdrawOffer(uint256 invoiceId) external;

    /// @notice Fund a confirmed invoice: `advance` moves from the caller to the
    /// holder and the token from the holder to the caller, or nothing moves.
    /// @param expectedAmount The face amount the financier priced.
    /// @param expectedDueDate The due date the financier priced.
    /// @param deadline Unix time after which these terms are void.
    function finance(
        uint256 invoiceId,
        uint256 advance,
        uint256 expectedAmount,
        uint64 expectedDueDate,
        uint256 deadline
    ) external;

    /// @notice Pay `amount` to the holder, as the buyer; partial and late
    /// payments are allowed.
    function repay(uint256 invoiceId, uint256 amount) external;

    /// @notice Accept or stop accepting a settlement currency (operator).
    function setCurrencyAccepted(address currency, bool accepted) external;

    /// @notice Stop all state changes (operator).
    function pause() external;

    /// @notice Resume state changes (operator).
    function unpause() external;

    /// @notice The on-chain state of an invoice.
    function getInvoice(uint256 invoiceId) external view returns (Invoice memory);

    /// @notice The invoice that registered `fingerprint`, or zero.
    function invoiceByFingerprint(bytes32 fingerprint) external view returns (uint256);

    /// @notice Whether `currency` is accepted for new invoices.
    function currencyAccepted(address currency) external view returns (bool);

    /// @notice The id the next issued invoice gets.
    function nextInvoiceId() external view returns (uint256);
}
