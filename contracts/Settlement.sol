// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IInvoiceToken} from "./interfaces/IInvoiceToken.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {State, Record, StoredListing, ReceivableRules} from "./ReceivableState.sol";

/// @title Settlement
/// @notice The money legs of {InvoiceToken}: financing, repayment (one receivable or
/// pro rata across a tree), credit notes and buy-backs. A linked library run by
/// DELEGATECALL on the token's storage, so its events are the token's and its
/// errors are {IInvoiceToken}'s; it keeps the token under the EIP-170 size limit.
/// The token moves ERC-721 tokens itself, after these functions return.
library Settlement {
    using SafeERC20 for IERC20;
    using ReceivableRules for State;

    uint8 private constant FINANCIER = 4;
    /// @dev The longest grace period a financing may agree (see {IInvoiceToken-FinancingTerms}).
    uint256 internal constant MAX_GRACE_PERIOD = 365 days;

    // A buyer's payment to one receivable, booked and not yet paid out.
    struct Booking {
        uint256 invoiceId;
        address holder;
        address seller;
        uint256 amount;
        uint256 toHolder;
        uint256 totalPaid;
    }

    /// @notice {IInvoiceToken-finance} up to the token's move: checks the terms and the
    /// holder's consent, records the financing, clears the listing and pays the advance.
    /// The caller (the token) then transfers the receivable from `seller` to the financier.
    function finance(
        State storage s,
        IParticipantRegistry registry,
        uint256 invoiceId,
        IInvoiceToken.FinancingTerms calldata terms,
        address seller
    ) external {
        registry.requireActive(msg.sender, FINANCIER);
        if (block.timestamp > terms.deadline) {
            revert IInvoiceToken.FinancingDeadlinePassed(invoiceId, terms.deadline, block.timestamp);
        }
        Record storage r = s.existing(invoiceId);
        if (r.seller != address(0)) revert IInvoiceToken.InvoiceAlreadyFinanced(invoiceId, r.seller);
        requireFinanceable(invoiceId, r.status);
        if (r.amount != terms.amount || r.paid != terms.paid || r.dueDate != terms.dueDate) {
            revert IInvoiceToken.FinancingTermsChanged(
                invoiceId, terms.amount, r.amount, terms.paid, r.paid, terms.dueDate, r.dueDate
            );
        }
        if (seller != terms.seller) revert IInvoiceToken.FinancingSellerChanged(invoiceId, terms.seller, seller);
        if (seller == msg.sender) revert IInvoiceToken.SelfFinancing(invoiceId, msg.sender);
        if (block.timestamp >= r.dueDate) revert IInvoiceToken.InvoiceMatured(invoiceId, r.dueDate);
        uint256 outstanding = r.amount - r.paid;
        if (terms.due > outstanding) revert IInvoiceToken.InvalidFinancierDue(invoiceId, terms.due, outstanding);
        if (terms.advance == 0 || terms.advance > terms.due) {
            revert IInvoiceToken.InvalidAdvance(invoiceId, terms.advance, terms.due);
        }
        if (terms.gracePeriod > MAX_GRACE_PERIOD) revert IInvoiceToken.InvalidGracePeriod(terms.gracePeriod);

        // Consent of the holder: a live listing this financier may take, whose ask is met.
        // An ERC-721 approval is not consent to a price.
        StoredListing memory listing = s.listings[invoiceId];
        if (
            block.timestamp > listing.expiry
                || (listing.financier != address(0) && listing.financier != msg.sender)
        ) revert IInvoiceToken.FinancingNotAuthorized(invoiceId, seller, msg.sender);
        if (terms.advance < listing.minAdvance) {
            revert IInvoiceToken.AdvanceBelowAsk(invoiceId, terms.advance, listing.minAdvance);
        }
        // Recourse is the seller's liability: only with its consent, and never with a grace
        // period shorter than the network's.
        if (terms.recourse) {
            if (!listing.recourse) revert IInvoiceToken.RecourseNotAccepted(invoiceId, seller);
            uint32 minimum = s.counters.gracePeriod;
            if (terms.gracePeriod < minimum) {
                revert IInvoiceToken.RecourseGraceTooShort(invoiceId, terms.gracePeriod, minimum);
            }
        }

        r.seller = seller;
        r.financierDue = uint96(terms.due);
        r.recourse = terms.recourse;
        r.gracePeriod = terms.gracePeriod;
        r.status = IInvoiceToken.Status.Financed;
        // Consumed by this financing, so no FinancingOfferWithdrawn from the token's transfer.
        delete s.listings[invoiceId];
        // Delivery versus payment: the token moves the receivable in this transaction or nothing moves.
        pay(s.currencyById[r.currencyId], msg.sender, seller, terms.advance);
        emit IInvoiceToken.InvoiceFinanced(
            invoiceId, msg.sender, seller, terms.advance, terms.due, terms.recourse, terms.gracePeriod
        );
    }

    /// @notice {IInvoiceToken-repay}: the caller, the buyer, pays `amount` of one receivable held by `holder`.
    function repay(State storage s, IParticipantRegistry registry, uint256 invoiceId, uint256 amount, address holder)
        external
    {
        Record storage r = s.existing(invoiceId);
        requireBuyer(registry, invoiceId, r);
        IInvoiceToken.Status status = r.status;
        if (!isPayable(status)) revert IInvoiceToken.InvoiceNotPayable(invoiceId, status);
        uint256 outstanding = r.amount - r.paid;
        if (amount == 0 || amount > outstanding) revert IInvoiceToken.InvalidRepayment(invoiceId, amount, outstanding);
        _settle(s.currencyById[r.currencyId], _book(invoiceId, r, amount, holder));
    }

    /// @notice {IInvoiceToken-repayRoot} for a split root: pro rata across its payable leaves.
    function repayTree(State storage s, IParticipantRegistry registry, uint256 rootId, uint256 amount)
        external
        returns (uint256 paidLeaves)
    {
        Record storage root = s.existing(rootId);
        requireBuyer(registry, rootId, root);
        (uint256[] memory leaves, uint256[] memory share) = _shares(s, rootId, amount);
        // Effects for every leaf first, then the payments.
        Booking[] memory bookings = new Booking[](leaves.length);
        for (uint256 i; i < leaves.length; ++i) {
            if (share[i] == 0) continue;
            uint256 id = leaves[i];
            address holder = IERC721(address(this)).ownerOf(id);
            bookings[paidLeaves++] = _book(id, s.records[id], share[i], holder);
        }
        address currency = s.currencyById[root.currencyId];
        for (uint256 i; i < paidLeaves; ++i) {
            _settle(currency, bookings[i]);
        }
    }

    /// @dev The payable leaves under `rootId` in id order (a disputed leaf waits for its
    /// resolution), then zeros, and each one's share of `amount`: pro rata, rounded down, then the
    /// units left over one each to leaves with room, in id order.
    function _shares(State storage s, uint256 rootId, uint256 amount)
        private
        view
        returns (uint256[] memory leaves, uint256[] memory share)
    {
        uint64[] storage tree = s.parts[_rootOf(s, rootId)];
        uint256 n = tree.length;
        leaves = new uint256[](n);
        uint256[] memory open = new uint256[](n);
        uint256 count = 0;
        uint256 total = 0;
        for (uint256 i; i < n; ++i) {
            uint256 id = tree[i];
            Record storage leaf = s.records[id];
            if (!isPayable(leaf.status) || !_descends(s, id, rootId)) continue;
            leaves[count] = id;
            open[count] = leaf.amount - leaf.paid;
            total += open[count];
            ++count;
        }
        if (amount == 0 || amount > total) revert IInvoiceToken.InvalidRepayment(rootId, amount, total);
        // Entries past `count` stay zero: no share, skipped by the caller.
        share = new uint256[](n);
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
    }

    /// @notice {IInvoiceToken-issueCreditNote}, the receivable held by `holder`.
    function issueCreditNote(State storage s, uint256 invoiceId, uint256 credit, bytes32 noteHash, address holder)
        external
    {
        Record storage r = s.existing(invoiceId);
        IInvoiceToken.Status status = r.status;
        bool disputed = status == IInvoiceToken.Status.Disputed;
        if (!disputed && !ReceivableRules.isOpen(status)) revert IInvoiceToken.CreditNoteNotAllowed(invoiceId, status);
        address creditor = r.seller == address(0) ? holder : r.seller;
        if (msg.sender != creditor) revert IInvoiceToken.NotCreditor(invoiceId, msg.sender, creditor);
        uint256 open = r.amount - r.paid;
        if (credit == 0 || credit > open) revert IInvoiceToken.InvalidCreditNote(invoiceId, credit, open);

        // Dilution is the seller's risk: it pays the financier what the reduced open amount
        // no longer covers of the financier's due.
        uint256 toHolder = 0;
        if (holder != creditor) {
            uint256 owed = uint256(r.financierDue) - r.financierPaid;
            if (owed > open - credit) toHolder = owed - (open - credit);
            r.financierPaid += uint96(toHolder);
        }
        uint256 newAmount = r.amount - credit;
        r.amount = uint96(newAmount);
        if (disputed) status = r.disputedFrom;
        if (newAmount == r.paid) {
            status = r.paid == 0 ? IInvoiceToken.Status.Cancelled : IInvoiceToken.Status.Paid;
            s.clearListing(invoiceId, holder);
        }
        r.status = status;
        r.disputedFrom = IInvoiceToken.Status.None;
        pay(s.currencyById[r.currencyId], msg.sender, holder, toHolder);
        emit IInvoiceToken.CreditNoteIssued(invoiceId, msg.sender, holder, credit, newAmount, toHolder, noteHash, status);
    }

    /// @notice {IInvoiceToken-buyBack} up to the token's move: the seller pays `holder`
    /// its outstanding due; returns the seller, to whom the token then moves the receivable.
    function buyBack(State storage s, uint256 invoiceId, address holder) external returns (address seller) {
        Record storage r = s.existing(invoiceId);
        if (r.status != IInvoiceToken.Status.Defaulted) {
            revert IInvoiceToken.InvoiceNotDefaulted(invoiceId, r.status);
        }
        seller = r.seller;
        if (seller == address(0) || !r.recourse) revert IInvoiceToken.NoRecourse(invoiceId);
        if (msg.sender != holder && msg.sender != seller) {
            revert IInvoiceToken.NotInvoiceHolder(invoiceId, msg.sender, holder);
        }
        uint256 owed = uint256(r.financierDue) - r.financierPaid;
        // Recoveries may have paid the holder in full: then there is nothing to buy back.
        if (holder == seller || owed == 0) revert IInvoiceToken.NothingOwed(invoiceId);
        // The financing is settled in full: the buyer's later payments all go to the seller.
        r.financierPaid = r.financierDue;
        pay(s.currencyById[r.currencyId], seller, holder, owed);
        emit IInvoiceToken.InvoiceBoughtBack(invoiceId, seller, holder, owed);
    }

    /// @dev Confirmed or PartiallyPaid (financing and splitting need one of these).
    function requireFinanceable(uint256 invoiceId, IInvoiceToken.Status status) internal pure {
        if (status != IInvoiceToken.Status.Confirmed && status != IInvoiceToken.Status.PartiallyPaid) {
            revert IInvoiceToken.InvoiceNotConfirmed(invoiceId, status);
        }
    }

    /// @dev Statuses the buyer pays: open ones and defaulted ones (recoveries).
    function isPayable(IInvoiceToken.Status status) internal pure returns (bool) {
        return ReceivableRules.isOpen(status) || status == IInvoiceToken.Status.Defaulted
            || status == IInvoiceToken.Status.WrittenOff;
    }

    function requireBuyer(IParticipantRegistry registry, uint256 invoiceId, Record storage r) internal view {
        address buyer = registry.accountOf(r.buyerId);
        if (msg.sender != buyer) revert IInvoiceToken.NotInvoiceBuyer(invoiceId, msg.sender, buyer);
        // No registry check: suspension and KYC lapse stop new business, never a payment.
    }

    /// @dev Moves `amount` of `currency` and checks that `to` received exactly that,
    /// so recorded amounts are always received amounts.
    function pay(address currency, address from, address to, uint256 amount) internal {
        if (from == to || amount == 0) return; // a holder paying itself moves nothing
        IERC20 token = IERC20(currency);
        uint256 before = token.balanceOf(to);
        token.safeTransferFrom(from, to, amount);
        uint256 balance = token.balanceOf(to);
        if (balance < before || balance - before != amount) {
            revert IInvoiceToken.SettlementShortfall(currency, to, amount, balance < before ? 0 : balance - before);
        }
    }

    /// @dev The waterfall of `amount` (checked by the caller) on `r`: the financier
    /// side first, up to its due; the reserve to the seller. Records it; pays nothing.
    /// A defaulted or written-off receivable keeps its status until fully paid.
    function _book(uint256 invoiceId, Record storage r, uint256 amount, address holder)
        private
        returns (Booking memory b)
    {
        b.invoiceId = invoiceId;
        b.holder = holder;
        b.seller = r.seller;
        b.amount = amount;
        b.toHolder = amount;
        if (b.seller != address(0)) {
            uint256 owed = uint256(r.financierDue) - r.financierPaid;
            if (b.toHolder > owed) b.toHolder = owed;
            r.financierPaid += uint96(b.toHolder);
        }
        b.totalPaid = r.paid + amount;
        r.paid = uint96(b.totalPaid);
        IInvoiceToken.Status status = r.status;
        if (b.totalPaid == r.amount) {
            r.status = IInvoiceToken.Status.Paid;
        } else if (ReceivableRules.isOpen(status)) {
            r.status = IInvoiceToken.Status.PartiallyPaid;
        }
    }

    /// @dev Pays out a booking from the caller (the buyer) and announces it.
    function _settle(address currency, Booking memory b) private {
        uint256 reserve = b.amount - b.toHolder;
        pay(currency, msg.sender, b.holder, b.toHolder);
        pay(currency, msg.sender, b.seller, reserve);
        emit IInvoiceToken.InvoiceRepaid(b.invoiceId, msg.sender, b.holder, b.amount, b.toHolder, b.totalPaid);
        if (reserve != 0) emit IInvoiceToken.ReserveReleased(b.invoiceId, b.seller, reserve);
    }

    /// @dev The root of `id`'s tree (itself for a root).
    function _rootOf(State storage s, uint256 id) private view returns (uint256) {
        uint256 root = s.lineage[id].root;
        return root == 0 ? id : root;
    }

    /// @dev Whether `id` is `ancestor` or lies below it (at most MAX_DEPTH steps up).
    function _descends(State storage s, uint256 id, uint256 ancestor) private view returns (bool) {
        while (id != ancestor) {
            id = s.lineage[id].parent;
            if (id == 0) return false;
        }
        return true;
    }
}
