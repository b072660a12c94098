// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {IInvoiceToken} from "./interfaces/IInvoiceToken.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {InvoiceNumbers} from "./InvoiceNumbers.sol";
import {State, Record, CurrencyInfo, Counters, ReceivableRules} from "./ReceivableState.sol";

/// @title Intake
/// @notice Issuing and confirming invoices for {InvoiceToken}, one or many, and
/// confirming on a buyer's EIP-712 signature. A linked library run by DELEGATECALL on
/// the token's storage (its events are the token's, its errors {IInvoiceToken}'s;
/// `msg.sender` is the token's caller); it keeps the token under the EIP-170 size
/// limit. The token mints each issued invoice and emits `InvoiceIssued` itself, so an
/// invoice of a batch emits exactly what a single issue does, in the same order.
library Intake {
    using ReceivableRules for State;

    uint8 private constant SUPPLIER = 1;
    uint8 private constant BUYER = 2;

    /// @notice The EIP-712 type a buyer signs (see {IInvoiceToken-SignedConfirmation}).
    bytes32 internal constant CONFIRMATION_TYPEHASH = keccak256(
        "Confirmation(address buyer,address supplier,string number,address currency,uint256 amount,uint64 dueDate,uint256 nonce,uint256 deadline)"
    );

    /// @notice {IInvoiceToken-issue} up to the mint: checks the caller, the buyer and the
    /// terms, registers the number and records the invoice; returns its id.
    function issue(
        State storage s,
        IParticipantRegistry registry,
        address buyer,
        string calldata number,
        uint256 amount,
        address currency,
        uint64 dueDate
    ) external returns (uint256) {
        uint32 supplierId = registry.requireActive(msg.sender, SUPPLIER);
        return _record(s, registry, supplierId, buyer, number, amount, currency, dueDate);
    }

    /// @notice {IInvoiceToken-issueBatch} up to the mints; returns the first id.
    function issueBatch(State storage s, IParticipantRegistry registry, IInvoiceToken.IssueRequest[] calldata requests)
        external
        returns (uint256 firstInvoiceId)
    {
        uint256 n = requests.length;
        if (n == 0) revert IInvoiceToken.EmptyBatch();
        uint32 supplierId = registry.requireActive(msg.sender, SUPPLIER);
        firstInvoiceId = s.counters.nextInvoiceId;
        for (uint256 i; i < n; ++i) {
            IInvoiceToken.IssueRequest calldata q = requests[i];
            _record(s, registry, supplierId, q.buyer, q.number, q.amount, q.currency, q.dueDate);
        }
    }

    /// @notice {IInvoiceToken-confirm}, by the caller.
    function confirm(State storage s, IParticipantRegistry registry, uint256 invoiceId) external {
        _confirmAsCaller(s, registry, invoiceId);
    }

    /// @notice {IInvoiceToken-confirmBatch}: {IInvoiceToken-confirm} of each of `invoiceIds`, by the caller.
    function confirmBatch(State storage s, IParticipantRegistry registry, uint256[] calldata invoiceIds) external {
        uint256 n = invoiceIds.length;
        if (n == 0) revert IInvoiceToken.EmptyBatch();
        for (uint256 i; i < n; ++i) {
            _confirmAsCaller(s, registry, invoiceIds[i]);
        }
    }

    /// @notice {IInvoiceToken-confirmWithSignatures}; `domainSeparator` is the token's EIP-712 domain.
    function confirmWithSignatures(
        State storage s,
        IParticipantRegistry registry,
        bytes32 domainSeparator,
        IInvoiceToken.SignedConfirmation[] calldata confirmations
    ) external {
        uint256 n = confirmations.length;
        if (n == 0) revert IInvoiceToken.EmptyBatch();
        for (uint256 i; i < n; ++i) {
            IInvoiceToken.SignedConfirmation calldata c = confirmations[i];
            if (block.timestamp > c.deadline) {
                revert IInvoiceToken.ConfirmationExpired(c.supplier, c.number, c.deadline, block.timestamp);
            }
            uint256 invoiceId = s.invoiceByKey[keccak256(abi.encodePacked(c.supplier, InvoiceNumbers.normalise(c.number)))];
            if (invoiceId == 0) revert IInvoiceToken.UnknownInvoiceNumber(c.supplier, c.number);
            Record storage r = s.records[invoiceId];
            // The signature is for the invoice as the buyer knew it: a changed one is not confirmed.
            if (s.currencyById[r.currencyId] != c.currency || r.amount != c.amount || r.dueDate != c.dueDate) {
                revert IInvoiceToken.ConfirmationTermsChanged(invoiceId, c.currency, c.amount, c.dueDate);
            }
            // The buyer signs as itself: one key that owns several ERC-1271 wallets cannot
            // have a signature meant for one wallet confirm another's debt.
            address buyer = registry.accountOf(r.buyerId);
            if (c.buyer != buyer) revert IInvoiceToken.InvalidConfirmationSignature(invoiceId, buyer);
            _useNonce(s, buyer, c.nonce);
            bytes32 digest = MessageHashUtils.toTypedDataHash(domainSeparator, _structHash(c));
            // ECDSA for an account, ERC-1271 for a contract wallet (a static call: it cannot re-enter).
            if (!_isValidSignatureNow(buyer, digest, c.signature)) {
                revert IInvoiceToken.InvalidConfirmationSignature(invoiceId, buyer);
            }
            _confirm(registry, r, invoiceId, buyer);
        }
    }

    /// @notice {IInvoiceToken-revokeConfirmationNonces}.
    function revokeNonces(State storage s, uint256 word, uint256 mask) external {
        s.confirmationNonces[msg.sender][word] |= mask;
        emit IInvoiceToken.ConfirmationNoncesRevoked(msg.sender, word, mask);
    }

    /// @dev Marks `buyer`'s nonce used; reverts if it was used or revoked. Unordered nonces
    /// in a bitmap (as Uniswap's Permit2): a buyer's signatures can be submitted in any
    /// order and any subset, each once, and nonces in one word share a storage slot.
    function _useNonce(State storage s, address buyer, uint256 nonce) private {
        uint256 bit = 1 << (nonce & 0xff);
        uint256 word = s.confirmationNonces[buyer][nonce >> 8];
        if (word & bit != 0) revert IInvoiceToken.ConfirmationNonceUsed(buyer, nonce);
        s.confirmationNonces[buyer][nonce >> 8] = word | bit;
    }

    /// @dev OpenZeppelin's `SignatureChecker.isValidSignatureNow(address, bytes32, bytes)`,
    /// line for line: ECDSA for an account, ERC-1271 for a contract. Not imported: in
    /// OpenZeppelin 5.4 its file also imports `Bytes`, whose MCOPY needs the Cancun EVM,
    /// and private networks run london (see the compiler's `evmVersion`).
    function _isValidSignatureNow(address signer, bytes32 hash, bytes calldata signature)
        private
        view
        returns (bool)
    {
        if (signer.code.length == 0) {
            (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
            return err == ECDSA.RecoverError.NoError && recovered == signer;
        }
        (bool success, bytes memory result) =
            signer.staticcall(abi.encodeCall(IERC1271.isValidSignature, (hash, signature)));
        return success && result.length >= 32
            && abi.decode(result, (bytes32)) == bytes32(IERC1271.isValidSignature.selector);
    }

    /// @dev The EIP-712 struct hash of a confirmation (the string is hashed, as EIP-712 says).
    function _structHash(IInvoiceToken.SignedConfirmation calldata c) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                CONFIRMATION_TYPEHASH,
                c.buyer,
                c.supplier,
                keccak256(bytes(c.number)),
                c.currency,
                c.amount,
                c.dueDate,
                c.nonce,
                c.deadline
            )
        );
    }

    /// @dev Confirms invoice `invoiceId` if the caller is its buyer.
    function _confirmAsCaller(State storage s, IParticipantRegistry registry, uint256 invoiceId) private {
        Record storage r = s.existing(invoiceId);
        address buyer = registry.accountOf(r.buyerId);
        if (msg.sender != buyer) revert IInvoiceToken.NotInvoiceBuyer(invoiceId, msg.sender, buyer);
        _confirm(registry, r, invoiceId, buyer);
    }

    /// @dev Confirms `r` for `buyer` (the caller or the signer, already checked to be its buyer).
    function _confirm(IParticipantRegistry registry, Record storage r, uint256 invoiceId, address buyer) private {
        registry.requireActive(buyer, BUYER);
        if (r.status != IInvoiceToken.Status.Issued) revert IInvoiceToken.InvoiceNotIssued(invoiceId, r.status);
        r.status = IInvoiceToken.Status.Confirmed;
        emit IInvoiceToken.InvoiceConfirmed(invoiceId, buyer);
    }

    /// @dev Checks one invoice's buyer and terms, registers its number under the next id and records it.
    function _record(
        State storage s,
        IParticipantRegistry registry,
        uint32 supplierId,
        address buyer,
        string calldata number,
        uint256 amount,
        address currency,
        uint64 dueDate
    ) private returns (uint256 invoiceId) {
        uint32 buyerId = registry.requireActive(buyer, BUYER);
        if (buyer == msg.sender) revert IInvoiceToken.InvalidBuyer(buyer);
        if (amount == 0 || amount > type(uint96).max) revert IInvoiceToken.InvalidAmount(amount);
        CurrencyInfo memory info = s.currencies[currency];
        if (!info.accepted) revert IInvoiceToken.CurrencyNotAccepted(currency);
        invoiceId = _register(s, number, dueDate);
        Record storage r = s.records[invoiceId];
        r.supplierId = supplierId;
        r.buyerId = buyerId;
        r.amount = uint96(amount);
        r.dueDate = dueDate;
        r.status = IInvoiceToken.Status.Issued;
        r.currencyId = info.id;
    }

    /// @dev Checks the due date against the tenor window, registers the caller's
    /// invoice number under the next id, and returns that id.
    function _register(State storage s, string calldata number, uint64 dueDate) private returns (uint256 invoiceId) {
        Counters memory counters = s.counters;
        if (dueDate <= block.timestamp || dueDate > block.timestamp + counters.maxTenor) {
            revert IInvoiceToken.InvalidDueDate(dueDate, block.timestamp, block.timestamp + counters.maxTenor);
        }
        // The identity is the contract's to compute: the caller cannot choose a key.
        bytes memory normalised = InvoiceNumbers.normalise(number);
        bytes32 key = keccak256(abi.encodePacked(msg.sender, normalised));
        uint256 existing = s.invoiceByKey[key];
        if (existing != 0) revert IInvoiceToken.DuplicateInvoice(msg.sender, normalised, existing);
        invoiceId = counters.nextInvoiceId;
        s.counters.nextInvoiceId = counters.nextInvoiceId + 1;
        s.invoiceByKey[key] = invoiceId;
    }
}
