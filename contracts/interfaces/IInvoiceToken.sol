// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Invoice receivables as ERC-721 tokens (version 5)
/// @notice A supplier issues an invoice to a buyer; the buyer confirms it; the
/// holder of the token is the party the buyer pays. A financier funds a
/// confirmed invoice once, ever, by delivery versus payment and only with the
/// holder's explicit listing: the advance moves from financier to seller and
/// the receivable from seller to financier in one transaction. The buyer's
/// later payments go to the holder up to the financier's due and the rest
/// (the reserve) to the seller, in the same transaction. Every state change
/// emits an event that carries enough data to rebuild the ledger from logs
/// alone (together with ERC-721 `Transfer`).
///
/// Identity: an invoice is (supplier, normalised invoice number), computed
/// here from the number the supplier passes, and registered forever
/// (cancelling never frees it). Amount, due date, currency and buyer are not
/// part of it. Normalisation works on the UTF-8 bytes of the number:
///  1. full-width ASCII forms (U+FF01..U+FF5E) become their ASCII character;
///     blank, invisible and dash-like characters become a space: U+00A0,
///     U+00AD, U+2000..U+2015, U+2028..U+202F, U+205F..U+206F, U+2212,
///     U+3000 and U+FEFF (so `INV\u200b1` or `INV\u00a01` is `INV1`);
///  2. ASCII letters are upper-cased;
///  3. every other ASCII character that is not a letter or digit (spaces,
///     `-`, `/`, `.`, `#`, ...) is ignored, as if absent;
///  4. leading zeros of each run of digits are dropped (a run of zeros keeps
///     one); a run ends at a letter or a non-ASCII character;
///  5. every other (non-ASCII) byte is kept as it is.
/// So `INV-01`, `INV 0001`, `inv1` and `ＩＮＶ０１` are the same invoice,
/// while different CJK numbers stay different. A number must be 1 to 64
/// bytes, hold no control character (C0, DEL or C1), and not normalise to
/// nothing. Letters of other scripts that look like Latin ones (Cyrillic А)
/// are kept as they are: such a number is a different invoice, so those who
/// match invoices should compare the normalised form, which shows them.
///
/// Pause stops every state change, repayment included, except a buyer's
/// revocation of its signed confirmations (it is the emergency brake); suspension and KYC expiry stop new business (issuing, confirming,
/// listing, financing, splitting, transferring, extending) but never the
/// enforcement or settlement of existing terms: a buyer's repayment, raising or
/// withdrawing a dispute, a credit note, declaring a default, a write-off or a
/// buy-back.
///
/// When things go wrong: overdue is derived (past due, not fully paid). After
/// the due date plus the grace period the holder may declare a default; the
/// buyer can still pay (recoveries, settled as any payment), the holder may
/// write its claim off (payments are still received), and under a financing
/// with recourse the seller buys the receivable back. The buyer disputes;
/// the buyer withdraws the dispute or the creditor issues a credit note
/// (dilution is the seller's risk). The buyer proposes a later due date; the
/// holder accepts it.
///
/// Intake at ERP scale (version 5): a supplier issues many invoices in one
/// transaction ({issueBatch}); a buyer confirms many ({confirmBatch}), or signs
/// confirmations offline (EIP-712) that anyone may submit
/// ({confirmWithSignatures}), so its treasury holds no gas. Each item emits
/// exactly the events its single call emits.
interface IInvoiceToken {
    /// @notice Lifecycle states. Numbering is part of the ABI: append only.
    /// A financed invoice that is partly paid is PartiallyPaid; whether it is
    /// financed is `seller != address(0)`.
    enum Status {
        None,
        Issued,
        Confirmed,
        Financed,
        PartiallyPaid,
        Paid,
        Cancelled,
        /// @notice Closed by a split: its open amount now lives in its parts.
        Split,
        /// @notice The buyer disputes it (`disputedFrom` keeps the status it left); it is
        /// not paid, financed, split, moved or defaulted until the dispute is resolved.
        Disputed,
        /// @notice Declared in default by its holder after the due date plus the grace
        /// period; the buyer can still pay (a recovery), through the same settlement.
        Defaulted,
        /// @notice Defaulted, then written off by its holder; later payments are still
        /// received (recoveries). Fully paid, it becomes Paid.
        WrittenOff
    }

    /// @notice On-chain state of one invoice, as the rules read it.
    /// Amounts are minor units of `currency`.
    struct Invoice {
        address supplier;
        address buyer;
        address currency;
        uint64 dueDate;
        Status status;
        uint256 amount;
        /// @notice Paid by the buyer so far, to holder and seller together.
        uint256 paid;
        /// @notice The holder when it was financed (receives the reserve); zero if never financed.
        address seller;
        /// @notice What the financier side is due from the buyer's payments made after financing.
        uint256 financierDue;
        /// @notice What the financier side has received of `financierDue` so far.
        uint256 financierPaid;
        /// @notice Whether the financing gives recourse to the seller after a default.
        bool recourse;
        /// @notice Seconds after the due date before the holder may declare a default:
        /// the financing's, or the deployment's for an unfinanced receivable.
        uint32 gracePeriod;
        /// @notice While Disputed, the status the dispute interrupted (None otherwise).
        Status disputedFrom;
        /// @notice A due date the buyer proposed and the holder has not accepted (0 for none).
        uint64 proposedDueDate;
    }

    /// @notice Terms a financier priced; `finance` reverts unless the invoice still matches them.
    struct FinancingTerms {
        /// @notice Paid now by the financier to the seller (at least the seller's ask).
        uint256 advance;
        /// @notice What the financier is due from the buyer's later payments: at least
        /// `advance`, at most the open amount. The rest of the open amount (the reserve)
        /// goes to the seller when the buyer pays. Due = open amount: no reserve (discounting).
        uint256 due;
        /// @notice The holder the financier expects to buy from.
        address seller;
        /// @notice The face amount priced.
        uint256 amount;
        /// @notice The amount already paid by the buyer when priced.
        uint256 paid;
        /// @notice The due date priced.
        uint64 dueDate;
        /// @notice Unix time after which these terms are void.
        uint64 deadline;
        /// @notice With recourse: after a default the holder may make the seller buy it back
        /// ({buyBack}). Without, the loss stays with the financier. Recourse needs the
        /// seller's consent (a listing that accepts it) and at least the deployment's grace period.
        bool recourse;
        /// @notice Seconds after the due date before the holder may declare a default (at
        /// most MAX_GRACE_PERIOD); clients pass the deployment's {gracePeriod} unless agreed otherwise.
        uint32 gracePeriod;
    }

    /// @notice Where a receivable sits in its tree: a root (an issued invoice) has
    /// parent 0, root itself and depth 0; a part has its parent, the root and
    /// depth = parent's depth + 1.
    struct Lineage {
        uint256 parent;
        uint256 root;
        uint8 depth;
    }

    /// @notice One part of a split: `amount` minor units of the parent's open
    /// amount, to `holder` (the splitter itself to keep it), with an optional
    /// reference `ref` (a hash of the purchase order or invoice it pays).
    struct Part {
        address holder;
        uint256 amount;
        bytes32 ref;
    }

    /// @notice A holder's standing offer to sell a receivable to a financier.
    struct Listing {
        /// @notice Only this financier may take it; zero for any.
        address financier;
        /// @notice Unix time after which the listing lapses; zero when there is none.
        uint64 expiry;
        /// @notice The least advance the holder accepts (above zero).
        uint256 minAdvance;
        /// @notice Whether the holder accepts a financing with recourse to it after a default.
        bool recourse;
    }

    /// @notice One invoice of {issueBatch}: the arguments of {issue}.
    struct IssueRequest {
        address buyer;
        string number;
        uint256 amount;
        address currency;
        uint64 dueDate;
        bytes32 docHash;
    }

    /// @notice A buyer's EIP-712 signed confirmation of a supplier's invoice, as its own
    /// payables ledger knows it: the buyer itself, the supplier's invoice number (any
    /// spelling that normalises the same), currency, face amount and due date. It confirms
    /// the invoice only while all of them still match it. The signed type is
    /// `Confirmation(address buyer,address supplier,string number,address currency,uint256 amount,uint64 dueDate,uint256 nonce,uint256 deadline)`
    /// under this contract's EIP-712 domain (name "SCF Invoice Receivable", version "5", the
    /// chain id and this contract), see {eip712Domain}.
    struct SignedConfirmation {
        /// @notice The invoice's buyer, who signs (an account, or an ERC-1271 wallet: naming it
        /// keeps a key that owns several wallets from confirming for the wrong one).
        address buyer;
        address supplier;
        string number;
        address currency;
        uint256 amount;
        uint64 dueDate;
        /// @notice Used once per buyer, in any order (a bitmap: word `nonce >> 8`, bit `nonce & 255`).
        uint256 nonce;
        /// @notice Unix time after which the signature is void.
        uint256 deadline;
        /// @notice The buyer's signature: 65-byte ECDSA for an account, anything its
        /// ERC-1271 `isValidSignature` accepts for a contract wallet.
        bytes signature;
    }

    /// @notice No invoice has id `invoiceId`.
    error InvoiceNotFound(uint256 invoiceId);
    /// @notice `supplier` issued this invoice number before (by its normalised form
    /// `normalisedNumber`), as invoice `existingInvoiceId`; cancelled invoices keep their number.
    error DuplicateInvoice(address supplier, bytes normalisedNumber, uint256 existingInvoiceId);
    /// @notice The invoice number is empty, longer than 64 bytes, holds an ASCII
    /// control character, or normalises to nothing.
    error InvalidInvoiceNumber(string number);
    /// @notice The amount is zero or above 2^96-1 minor units.
    error InvalidAmount(uint256 amount);
    /// @notice The due date is not after the issue time, or beyond `latestDueDate`.
    error InvalidDueDate(uint64 dueDate, uint256 nowTimestamp, uint256 latestDueDate);
    /// @notice The buyer cannot be the supplier.
    error InvalidBuyer(address buyer);
    /// @notice The settlement currency is not accepted by the currency manager.
    error CurrencyNotAccepted(address currency);
    /// @notice The operation needs an invoice in status Issued.
    error InvoiceNotIssued(uint256 invoiceId, Status status);
    /// @notice Listing, financing and splitting need a confirmed or partly paid invoice.
    error InvoiceNotConfirmed(uint256 invoiceId, Status status);
    /// @notice The invoice was financed before (one financing per invoice, ever).
    error InvoiceAlreadyFinanced(uint256 invoiceId, address seller);
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
    /// @notice The invoice differs from the amount, payments or due date the financier priced.
    error FinancingTermsChanged(
        uint256 invoiceId,
        uint256 expectedAmount,
        uint256 amount,
        uint256 expectedPaid,
        uint256 paid,
        uint64 expectedDueDate,
        uint64 dueDate
    );
    /// @notice The invoice is held by someone other than the seller the financier priced.
    error FinancingSellerChanged(uint256 invoiceId, address expectedSeller, address holder);
    /// @notice The financier's deadline for these terms has passed.
    error FinancingDeadlinePassed(uint256 invoiceId, uint256 deadline, uint256 nowTimestamp);
    /// @notice A matured invoice is collected, not financed.
    error InvoiceMatured(uint256 invoiceId, uint64 dueDate);
    /// @notice The advance is zero or above the financier's due.
    error InvalidAdvance(uint256 invoiceId, uint256 advance, uint256 due);
    /// @notice The financier's due is above the open amount.
    error InvalidFinancierDue(uint256 invoiceId, uint256 due, uint256 outstanding);
    /// @notice The advance is below what the holder asked for when listing.
    error AdvanceBelowAsk(uint256 invoiceId, uint256 advance, uint256 minAdvance);
    /// @notice The holder has no live listing that this financier may take.
    error FinancingNotAuthorized(uint256 invoiceId, address holder, address financier);
    /// @notice The holder cannot finance its own receivable.
    error SelfFinancing(uint256 invoiceId, address account);
    /// @notice A listing's expiry is not in the future.
    error InvalidOfferExpiry(uint256 invoiceId, uint64 expiry);
    /// @notice A listing's asking advance is zero or above the open amount.
    error InvalidAsk(uint256 invoiceId, uint256 minAdvance, uint256 outstanding);
    /// @notice The invoice has no listing to withdraw (never listed, withdrawn, or consumed).
    error NotListed(uint256 invoiceId);
    /// @notice The repayment is zero or above the open amount.
    error InvalidRepayment(uint256 invoiceId, uint256 amount, uint256 outstanding);
    /// @notice `to` received `received` of the `expected` minor units sent: fee-on-transfer and
    /// other tokens that deliver less than the amount sent cannot settle receivables.
    error SettlementShortfall(address currency, address to, uint256 expected, uint256 received);
    /// @notice A split needs 2 to MAX_PARTS parts, each above zero, summing to the open amount exactly.
    error InvalidSplit(uint256 invoiceId, uint256 parts, uint256 sum, uint256 outstanding);
    /// @notice Splitting would put parts deeper than MAX_DEPTH, or make more `parts` than the
    /// receivable's `budget` (see {split}).
    error SplitLimit(uint256 invoiceId, uint256 depth, uint256 parts, uint256 budget);
    /// @notice Only an unfinanced receivable is split (a financing's due and reserve stay whole).
    error SplitFinanced(uint256 invoiceId, address seller);
    /// @notice The longest tenor must be at least one day.
    error InvalidMaxTenor(uint64 maxTenor);
    /// @notice A grace period is at most MAX_GRACE_PERIOD seconds.
    error InvalidGracePeriod(uint256 gracePeriod);
    /// @notice Only a Confirmed, Financed or PartiallyPaid receivable is disputed, extended or defaulted.
    error InvoiceNotOpen(uint256 invoiceId, Status status);
    /// @notice The receivable is not in dispute.
    error InvoiceNotDisputed(uint256 invoiceId, Status status);
    /// @notice A credit note needs an open receivable (disputed or not).
    error CreditNoteNotAllowed(uint256 invoiceId, Status status);
    /// @notice Only the creditor issues a credit note: the seller of a financed
    /// receivable (dilution is its risk), otherwise the holder.
    error NotCreditor(uint256 invoiceId, address account, address creditor);
    /// @notice A credit note is 1 minor unit to the open amount.
    error InvalidCreditNote(uint256 invoiceId, uint256 credit, uint256 outstanding);
    /// @notice A new due date is later than the current one and within the longest tenor from now.
    error InvalidExtension(uint256 invoiceId, uint64 proposedDueDate, uint64 dueDate, uint256 latestDueDate);
    /// @notice The holder accepts only the due date the buyer proposed (0: none proposed).
    error ExtensionNotProposed(uint256 invoiceId, uint64 dueDate, uint64 proposedDueDate);
    /// @notice A default is declared only after the due date plus the grace period.
    error DefaultBeforeGrace(uint256 invoiceId, uint256 defaultableAfter, uint256 nowTimestamp);
    /// @notice Write-off and buy-back need a Defaulted receivable.
    error InvoiceNotDefaulted(uint256 invoiceId, Status status);
    /// @notice Buy-back needs a financing made with recourse.
    error NoRecourse(uint256 invoiceId);
    /// @notice Nothing is owed to the holder (default, write-off, buy-back), or the seller already holds it (buy-back).
    error NothingOwed(uint256 invoiceId);
    /// @notice A financing with recourse needs a listing that accepts recourse.
    error RecourseNotAccepted(uint256 invoiceId, address holder);
    /// @notice A financing with recourse gives the seller at least the deployment's grace period.
    error RecourseGraceTooShort(uint256 invoiceId, uint32 gracePeriod, uint32 minimum);

    /// @notice A batch holds no item.
    error EmptyBatch();
    /// @notice A signed confirmation was submitted after its deadline.
    error ConfirmationExpired(address supplier, string number, uint256 deadline, uint256 nowTimestamp);
    /// @notice No invoice of `supplier` has this number (in any spelling).
    error UnknownInvoiceNumber(address supplier, string number);
    /// @notice The invoice no longer matches what the buyer signed (currency, amount or due date).
    error ConfirmationTermsChanged(uint256 invoiceId, address currency, uint256 amount, uint64 dueDate);
    /// @notice The buyer's nonce was used already, or revoked.
    error ConfirmationNonceUsed(address buyer, uint256 nonce);
    /// @notice The signature is not the invoice's buyer's (nor accepted by its ERC-1271 wallet),
    /// or it names another buyer than the invoice's.
    error InvalidConfirmationSignature(uint256 invoiceId, address buyer);

    /// @notice Emitted when `supplier` issues invoice `invoiceId` with invoice
    /// number `number` (as the supplier wrote it) to `buyer`.
    event InvoiceIssued(
        uint256 indexed invoiceId,
        address indexed supplier,
        address indexed buyer,
        string number,
        address currency,
        uint256 amount,
        uint64 dueDate,
        bytes32 docHash
    );
    /// @notice Emitted when the buyer accepts the invoice as a promise to pay.
    event InvoiceConfirmed(uint256 indexed invoiceId, address indexed buyer);
    /// @notice Emitted when the supplier cancels an unconfirmed invoice (the
    /// token is burnt; the invoice number stays used).
    event InvoiceCancelled(uint256 indexed invoiceId, address indexed supplier);
    /// @notice Emitted when the holder lists a receivable for financing.
    /// `financier` zero means any financier.
    /// `recourse`: the holder accepts a financing with recourse to it.
    event FinancingOffered(
        uint256 indexed invoiceId,
        address indexed holder,
        address indexed financier,
        uint256 minAdvance,
        uint64 expiry,
        bool recourse
    );
    /// @notice Emitted when a listing ends without a financing: withdrawn by the
    /// holder, or cleared because the receivable changed hands.
    event FinancingOfferWithdrawn(uint256 indexed invoiceId, address indexed holder);
    /// @notice Emitted when `financier` pays `advance` to `seller` and takes the
    /// receivable; it is due `due` of the buyer's later payments, the seller the rest.
    /// `recourse` and `gracePeriod` are the financing's default terms.
    event InvoiceFinanced(
        uint256 indexed invoiceId,
        address indexed financier,
        address indexed seller,
        uint256 advance,
        uint256 due,
        bool recourse,
        uint32 gracePeriod
    );
    /// @notice Emitted when the buyer pays `amount`: `toHolder` of it to the holder
    /// `payee`, the rest to the seller (see {ReserveReleased}); `totalPaid` is the running total.
    event InvoiceRepaid(
        uint256 indexed invoiceId,
        address indexed payer,
        address indexed payee,
        uint256 amount,
        uint256 toHolder,
        uint256 totalPaid
    );
    /// @notice Emitted when part of a buyer's payment beyond the financier's due
    /// (the reserve) goes to `seller`.
    event ReserveReleased(uint256 indexed invoiceId, address indexed seller, uint256 amount);
    /// @notice Emitted when the holder splits `parentId` into `parts` receivables
    /// (each announced by {PartCreated}); the parent is closed as Split.
    event InvoiceSplit(uint256 indexed parentId, uint256 indexed rootId, address indexed holder, uint256 parts);
    /// @notice Emitted for each part of a split: a receivable of `amount` with the
    /// parent's buyer, currency and due date, held by `holder` (also an ERC-721 mint).
    event PartCreated(
        uint256 indexed partId,
        uint256 indexed parentId,
        uint256 indexed rootId,
        address holder,
        uint256 amount,
        uint8 depth,
        bytes32 ref
    );
    /// @notice Emitted when a receivable is transferred with {transferWithReference}
    /// (after the ERC-721 `Transfer`): the payment reference of the transfer.
    event ReceivableTransferred(uint256 indexed invoiceId, address indexed from, address indexed to, bytes32 ref);
    /// @notice Emitted when the buyer pays `amount` across the open leaves of
    /// `rootId` (each leaf's share announced by its own {InvoiceRepaid}).
    event RootRepaid(uint256 indexed rootId, address indexed payer, uint256 amount, uint256 leaves);
    /// @notice Emitted when the currency manager accepts or stops accepting a settlement currency.
    event CurrencyAcceptanceChanged(address indexed currency, uint16 currencyId, bool accepted);
    /// @notice Emitted when the operator changes how far after issue a due date may lie.
    event MaxTenorChanged(uint64 maxTenor);
    /// @notice Emitted when the operator changes the grace period of unfinanced receivables.
    event GracePeriodChanged(uint32 gracePeriod);
    /// @notice Emitted when the buyer disputes a receivable (`reason`: hash of its
    /// statement, which stays off chain); `previous` is the status it interrupts.
    event InvoiceDisputed(uint256 indexed invoiceId, address indexed buyer, bytes32 reason, Status previous);
    /// @notice Emitted when the buyer withdraws its dispute; the receivable is `restored` to its status before.
    event DisputeWithdrawn(uint256 indexed invoiceId, address indexed buyer, Status restored);
    /// @notice Emitted when `issuer` (the creditor) reduces the receivable by `credit`
    /// to `newAmount` (dilution), paying `toHolder` of it to the holder `holder` when the
    /// holder is a financier; `status` is the receivable's status after (a dispute ends).
    event CreditNoteIssued(
        uint256 indexed invoiceId,
        address indexed issuer,
        address indexed holder,
        uint256 credit,
        uint256 newAmount,
        uint256 toHolder,
        bytes32 noteHash,
        Status status
    );
    /// @notice Emitted when the buyer proposes to move the due date from `dueDate` to `proposedDueDate`.
    event ExtensionProposed(uint256 indexed invoiceId, address indexed buyer, uint64 dueDate, uint64 proposedDueDate);
    /// @notice Emitted when the holder accepts the buyer's new due date.
    event MaturityExtended(uint256 indexed invoiceId, address indexed holder, uint64 oldDueDate, uint64 newDueDate);
    /// @notice Emitted when the holder declares a default: `outstanding` is the buyer's
    /// open amount, `holderClaim` the part of it owed to the holder.
    event InvoiceDefaulted(uint256 indexed invoiceId, address indexed holder, uint256 outstanding, uint256 holderClaim);
    /// @notice Emitted when the seller buys a defaulted receivable back under recourse,
    /// paying `amount` (the holder's outstanding due) to `holder`; the token goes to the seller.
    event InvoiceBoughtBack(uint256 indexed invoiceId, address indexed seller, address indexed holder, uint256 amount);
    /// @notice Emitted when the holder writes off its unpaid claim `amount` of a defaulted receivable.
    event InvoiceWrittenOff(uint256 indexed invoiceId, address indexed holder, uint256 amount);
    /// @notice Emitted when `buyer` revokes the confirmation nonces set in `mask` of bitmap
    /// word `word` (nonces `word * 256 + i`): signatures that carry them can no longer be used.
    event ConfirmationNoncesRevoked(address indexed buyer, uint256 word, uint256 mask);

    /// @notice Issue an invoice as the calling supplier; returns its id (from 1).
    /// @param buyer The buyer, an active participant with the buyer role.
    /// @param number The supplier's invoice number; unique per supplier, forever, once normalised.
    /// @param amount Face amount in minor units (1 to 2^96-1).
    /// @param currency An accepted settlement token.
    /// @param dueDate Unix time of the due date's end; after now and at most `maxTenor` ahead.
    /// @param docHash Hash of the invoice document, which stays off chain (only in the event).
    function issue(
        address buyer,
        string calldata number,
        uint256 amount,
        address currency,
        uint64 dueDate,
        bytes32 docHash
    ) external returns (uint256 invoiceId);

    /// @notice Issue many invoices as the calling supplier, all or none: each is checked
    /// and recorded as by {issue} and emits the same events (`Transfer`, `InvoiceIssued`).
    /// The ids are consecutive, from the returned one, in the order of `requests`.
    function issueBatch(IssueRequest[] calldata requests) external returns (uint256 firstInvoiceId);

    /// @notice Accept the invoice as its buyer.
    function confirm(uint256 invoiceId) external;

    /// @notice Accept many invoices as their buyer, all or none; each emits `InvoiceConfirmed`.
    function confirmBatch(uint256[] calldata invoiceIds) external;

    /// @notice Confirm invoices on their buyers' EIP-712 signatures, all or none; anyone may
    /// submit them (a relayer pays the gas). Each confirmation finds the invoice by
    /// (supplier, normalised number), checks the deadline, that currency, amount and due
    /// date still match, uses the buyer's nonce and checks the signature (ECDSA, or
    /// ERC-1271 for a contract wallet) against the buyer as the registry knows it now.
    /// Each emits `InvoiceConfirmed` with the buyer, as {confirm} does.
    function confirmWithSignatures(SignedConfirmation[] calldata confirmations) external;

    /// @notice Revoke the caller's unused confirmation nonces in bitmap word `word` (the bits
    /// of `mask`), voiding signatures given but not yet submitted. Taking consent back is
    /// always allowed: also while paused, suspended or with KYC lapsed.
    function revokeConfirmationNonces(uint256 word, uint256 mask) external;

    /// @notice Bitmap word `word` of `buyer`'s used or revoked confirmation nonces.
    function confirmationNonces(address buyer, uint256 word) external view returns (uint256);

    /// @notice Cancel an unconfirmed invoice as its supplier.
    function cancel(uint256 invoiceId) external;

    /// @notice List a confirmed (or partly paid), unfinanced receivable for financing, as its holder.
    /// The listing is cleared when the receivable changes hands.
    /// @param financier Only this financier may take it; zero for any.
    /// @param minAdvance The least advance the holder accepts: above zero, at most the open amount.
    /// @param expiry Unix time after which the listing lapses.
    /// @param recourse Whether the holder accepts a financing with recourse to it (then it may
    /// have to buy the receivable back after a default); without, only non-recourse financing.
    function offerForFinancing(uint256 invoiceId, address financier, uint256 minAdvance, uint64 expiry, bool recourse)
        external;

    /// @notice Withdraw a listing, as the holder. Allowed to suspended and
    /// KYC-expired holders too: taking consent back is never new business.
    /// Reverts with `NotListed` when there is no listing (a lapsed one can
    /// still be withdrawn), so a withdrawal event always ends a real listing.
    function withdrawOffer(uint256 invoiceId) external;

    /// @notice Fund a listed receivable: `terms.advance` moves from the caller to
    /// the seller and the token from the seller to the caller, or nothing moves.
    function finance(uint256 invoiceId, FinancingTerms calldata terms) external;

    /// @notice Pay `amount` as the buyer: to the holder up to the financier's due,
    /// the rest to the seller. Partial and late payments are allowed, and neither
    /// a suspension nor a KYC lapse of any party stops them. Only the buyer pays:
    /// a buyer's payment history is what credit decisions read, so a payment by
    /// another party must not be recorded as the buyer's.
    function repay(uint256 invoiceId, uint256 amount) external;

    /// @notice Split a confirmed or part-paid, unfinanced receivable, as its holder
    /// (active), into 2 to MAX_PARTS parts whose amounts sum to its open amount
    /// exactly; each part is minted to its holder (an active participant) with the
    /// parent's buyer, currency and due date. The parent is closed as Split (it is
    /// no longer paid, moved, listed or financed) and its listing cleared. Parts
    /// can be split again down to MAX_DEPTH. Each receivable has a budget of parts
    /// it may make below it: a root MAX_TREE_PARTS; a split into n parts spends n
    /// and gives each part an equal share, floor((budget - n) / n), of the rest,
    /// so no holder can use up the budget of another branch. A receivable past
    /// its due date is not split (`InvoiceMatured`). Returns the first part's id;
    /// the parts' ids are consecutive.
    function split(uint256 invoiceId, Part[] calldata parts) external returns (uint256 firstPartId);

    /// @notice Transfer a receivable as its holder to `to` with a payment reference
    /// `ref` (the same rules as an ERC-721 transfer; {ReceivableTransferred} records `ref`).
    function transferWithReference(uint256 invoiceId, address to, bytes32 ref) external;

    /// @notice Pay `amount` as the buyer across the open leaves of `rootId`, pro
    /// rata to their open amounts: each leaf gets floor(amount * open / total open),
    /// then the minor units left over go one each to the leaves with room, in id
    /// order. Nothing is lost or created; no leaf gets more than its open amount;
    /// each leaf's share is settled as {repay} settles it. `rootId` may be any
    /// receivable: an unsplit one is paid as by {repay}.
    function repayRoot(uint256 rootId, uint256 amount) external;

    /// @notice Dispute a Confirmed, Financed or PartiallyPaid receivable, as its buyer,
    /// with the hash of a statement of reasons. Until resolved it is not paid,
    /// financed, split, transferred or defaulted; a listing is cleared.
    function dispute(uint256 invoiceId, bytes32 reason) external;

    /// @notice Withdraw a dispute, as the buyer: the receivable returns to where it was.
    function withdrawDispute(uint256 invoiceId) external;

    /// @notice Reduce the receivable by `credit` (dilution), as its creditor: the seller
    /// of a financed one, otherwise the holder. Resolves a dispute. When a financier
    /// holds it, the seller pays the financier, in the same transaction, what the
    /// reduced open amount no longer covers of its due: max(0, (due - paid to it) -
    /// (new open amount)), so a financier's due is never silently reduced. A credit
    /// note of the whole open amount closes it: Paid if anything was paid, else Cancelled.
    function issueCreditNote(uint256 invoiceId, uint256 credit, bytes32 noteHash) external;

    /// @notice Propose a later due date, as the buyer (active): after the current one,
    /// within `maxTenor` from now. Replaces an earlier proposal.
    function proposeExtension(uint256 invoiceId, uint64 newDueDate) external;

    /// @notice Accept the buyer's proposed due date, as the holder (active; the financier
    /// if financed); `newDueDate` must equal the proposal.
    function acceptExtension(uint256 invoiceId, uint64 newDueDate) external;

    /// @notice Declare a default, as the holder, after the due date plus the grace period
    /// (the financing's, or the deployment's), while something is owed to it (`NothingOwed`
    /// for a financier already paid its due). The buyer can still pay.
    function declareDefault(uint256 invoiceId) external;

    /// @notice Write off the holder's unpaid claim on a defaulted receivable, as the holder.
    function writeOff(uint256 invoiceId) external;

    /// @notice Under recourse, after a default: the seller pays the holder its outstanding
    /// due and takes the receivable back, in one transaction. Called by the holder (a
    /// demand: the payment is drawn on the seller's allowance) or by the seller. `NothingOwed`
    /// when the seller holds it already or recoveries have paid the holder's due in full.
    function buyBack(uint256 invoiceId) external;

    /// @notice Set the grace period of unfinanced receivables and the default offered
    /// to new financings, in seconds (operator).
    function setGracePeriod(uint32 gracePeriod) external;

    /// @notice The deployment's grace period, in seconds.
    function gracePeriod() external view returns (uint32);

    /// @notice Where a receivable sits in its tree.
    function getLineage(uint256 invoiceId) external view returns (Lineage memory);

    /// @notice Every part ever split from the tree of `rootId`, in creation order
    /// (the leaves are those not closed as Split).
    function partsOf(uint256 rootId) external view returns (uint256[] memory);

    /// @notice Accept or stop accepting a settlement currency (currency manager).
    /// Only plain ERC-20 tokens are fit: settlement refuses a token that delivers
    /// less than the amount sent.
    function setCurrencyAccepted(address currency, bool accepted) external;

    /// @notice Set the longest time from issue to due date, in seconds (operator).
    function setMaxTenor(uint64 maxTenor) external;

    /// @notice Stop all state changes (operator).
    function pause() external;

    /// @notice Resume state changes (operator).
    function unpause() external;

    /// @notice The on-chain state of an invoice.
    function getInvoice(uint256 invoiceId) external view returns (Invoice memory);

    /// @notice The stored listing of an invoice (all zero when there is none); it is
    /// live while `block.timestamp <= expiry`.
    function getListing(uint256 invoiceId) external view returns (Listing memory);

    /// @notice The invoice `supplier` issued under `number` (in any of its spellings), or zero.
    function invoiceIdOf(address supplier, string calldata number) external view returns (uint256);

    /// @notice The normalised form of an invoice number (reverts as `issue` does for invalid ones).
    function normaliseNumber(string calldata number) external pure returns (bytes memory);

    /// @notice Whether `currency` is accepted for new invoices.
    function currencyAccepted(address currency) external view returns (bool);

    /// @notice The id the next issued invoice gets.
    function nextInvoiceId() external view returns (uint256);

    /// @notice The longest time from issue to due date, in seconds.
    function maxTenor() external view returns (uint64);

    /// @notice The contract's version (5 for this interface: version 4 plus batch issue and confirm, and signed confirmations).
    function version() external pure returns (uint256);
}
