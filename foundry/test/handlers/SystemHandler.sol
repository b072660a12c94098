// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm, VM_ADDRESS} from "../utils/Vm.sol";
import {decimal} from "../utils/Decimal.sol";
import {IInvoiceToken} from "../../../contracts/interfaces/IInvoiceToken.sol";
import {ISystemToken, IRegistryAdmin, ISettlementToken} from "../utils/Interfaces.sol";

/// @notice Drives the whole deployed system (registry, invoice token with its linked
/// libraries, settlement token) for forge's invariant runner: every operation of the
/// network, by random participants with changing roles, KYC expiries and time jumps.
///
/// Each operation picks a receivable in a state where the call can work and, most of
/// the time, the party entitled to make it (one call in eight is made by a random
/// actor instead, and some inputs are deliberately bad), so most calls reach the
/// contracts' real rules. Every contract call is wrapped in try/catch: a refusal is
/// counted, never fatal. After each call the handler books what happened into ghost
/// variables, from the handler's own model (who may act, who holds what, what money
/// should have moved), which the invariants in SystemInvariants.t.sol compare with
/// the chain. The handler never decides a rule from the contract's own answer.
contract SystemHandler {
    Vm internal constant vm = Vm(VM_ADDRESS);

    // ---- the system ----
    ISystemToken public immutable token;
    IRegistryAdmin public immutable registry;
    ISettlementToken public immutable hkd;
    /// @dev A second ERC-20 the currency manager never accepts.
    ISettlementToken public immutable usd;
    address public immutable operator;
    address public immutable admin;
    address public immutable minter;

    // ---- actors: 0..9 admitted participants, 10 an outsider never admitted ----
    uint256 public constant N = 11;
    uint256 internal constant OUTSIDER = 10;
    address[N] public actors;
    uint256[N] internal keys;
    uint8[N] public baseRoles;
    // The handler's model of the registry (changed only by calls that succeeded).
    bool[N] public admitted;
    uint8[N] public roles;
    uint64[N] public kyc;
    bool[N] public suspended;

    uint8 internal constant SUPPLIER = 1;
    uint8 internal constant BUYER = 2;
    uint8 internal constant FINANCIER = 4;
    uint8 internal constant AUDITOR = 8;

    /// @dev Who issues (S1, S2, the tier-2 holders T1, T2, and X, supplier and buyer at once).
    uint256[5] internal SUPPLIERS = [uint256(0), 1, 6, 7, 8];
    uint256[3] internal BUYERS = [uint256(2), 3, 8];
    uint256[2] internal FINANCIERS = [uint256(4), 5];
    uint256[8] internal NON_FINANCIERS = [uint256(0), 1, 2, 3, 6, 7, 8, 9];

    // ---- statuses (IInvoiceToken.Status) ----
    uint8 internal constant NONE = 0;
    uint8 internal constant ISSUED = 1;
    uint8 internal constant CONFIRMED = 2;
    uint8 internal constant FINANCED = 3;
    uint8 internal constant PARTIALLY_PAID = 4;
    uint8 internal constant PAID = 5;
    uint8 internal constant CANCELLED = 6;
    uint8 internal constant SPLIT = 7;
    uint8 internal constant DISPUTED = 8;
    uint8 internal constant DEFAULTED = 9;
    uint8 internal constant WRITTEN_OFF = 10;
    uint256 internal constant OPEN =
        (uint256(1) << CONFIRMED) | (uint256(1) << FINANCED) | (uint256(1) << PARTIALLY_PAID);
    uint256 internal constant PAYABLE = OPEN | (uint256(1) << DEFAULTED) | (uint256(1) << WRITTEN_OFF);
    uint256 internal constant FINANCEABLE = (uint256(1) << CONFIRMED) | (uint256(1) << PARTIALLY_PAID);
    uint256 internal constant ANY = ((uint256(1) << (WRITTEN_OFF + 1)) - 1) & ~uint256(1);
    /// @dev Every status, None included (for pickers that ask only something else).
    uint256 internal constant ALL = type(uint256).max;

    // ---- operations (indexes of the stats and of the transition table) ----
    uint8 internal constant OP_ISSUE = 1;
    uint8 internal constant OP_IMPORT = 2;
    uint8 internal constant OP_CONFIRM = 3;
    uint8 internal constant OP_CONFIRM_BATCH = 4;
    uint8 internal constant OP_CONFIRM_SIGNED = 5;
    uint8 internal constant OP_REVOKE_NONCE = 6;
    uint8 internal constant OP_CANCEL = 7;
    uint8 internal constant OP_OFFER = 8;
    uint8 internal constant OP_WITHDRAW_OFFER = 9;
    uint8 internal constant OP_FINANCE = 10;
    uint8 internal constant OP_REPAY = 11;
    uint8 internal constant OP_REPAY_ROOT = 12;
    uint8 internal constant OP_SPLIT = 13;
    uint8 internal constant OP_TRANSFER = 14;
    uint8 internal constant OP_APPROVE = 15;
    uint8 internal constant OP_TRANSFER_FROM = 16;
    uint8 internal constant OP_DISPUTE = 17;
    uint8 internal constant OP_WITHDRAW_DISPUTE = 18;
    uint8 internal constant OP_CREDIT_NOTE = 19;
    uint8 internal constant OP_PROPOSE_EXTENSION = 20;
    uint8 internal constant OP_ACCEPT_EXTENSION = 21;
    uint8 internal constant OP_DEFAULT = 22;
    uint8 internal constant OP_WRITE_OFF = 23;
    uint8 internal constant OP_BUY_BACK = 24;
    uint8 internal constant OP_PAUSE = 25;
    uint8 internal constant OP_UNPAUSE = 26;
    uint8 internal constant OP_WARP = 27;
    uint8 internal constant OP_SET_PARTICIPANT = 28;
    uint8 internal constant OP_SUSPEND = 29;
    uint8 internal constant OP_FUND = 30;
    uint8 internal constant OP_ATTACK = 31;
    uint8 internal constant OPS = 32;

    /// @dev Receivables a run may create; past it, issuing and splitting are skipped
    /// (keeps each call's bookkeeping and each invariant's scan cheap).
    uint256 public constant MAX_IDS = 160;

    // ---- ghosts ----
    struct Ghost {
        uint8 status; // as last seen after a call
        uint8 disputedFrom; // the status a dispute interrupted, as seen
        uint8 financeCount; // successful finance calls
        bool isPart;
        address owner; // who should hold the token (0: burned)
        address approved; // ERC-721 approval the holder gave
        address supplier;
        address buyer;
        address seller; // the holder it was financed from
        uint256 face; // amount at creation
        uint256 credited; // credit notes
        uint256 buyerPaid; // the buyer's payments booked to it
        uint256 due; // what the financier is due (set at financing)
        uint256 advance;
        uint256 finSide; // what the financier side has received (repayments, dilution, buy-back)
        uint256 number; // the n of its invoice number INV-n (0 for a part)
        uint256 root; // its tree's root (itself for a root)
        uint256 parent; // the receivable it was split from (0 for a root)
        // As the chain showed after the last call on it (to choose receivables without reading the chain):
        uint64 listingExpiry;
        uint64 proposed;
        uint64 dueDate;
        uint32 grace;
        bool recourse; // financed with recourse to the seller
    }

    mapping(uint256 id => Ghost) internal _g;
    /// @dev Each root's parts in id order (as the token's partsOf).
    mapping(uint256 root => uint256[]) internal _partsOf;
    /// @notice The highest receivable id booked so far.
    uint256 public maxId;

    uint256 public ghostMinted;
    bool public ghostPaused;
    uint64 public ghostMaxTenor;
    uint32 public ghostGrace;

    // Violations each invariant reads (all must stay 0), with the first one of each kind.
    uint256 public moneyMismatches; // invariant 1: a call moved money other than it should
    uint256 public identityViolations; // invariant 2: a duplicate invoice number accepted
    uint256 public badTransitions; // invariant 3
    uint256 public waterfallMismatches; // invariant 5: the booking differs from the terms
    uint256 public monotonicViolations; // invariant 5: the seller or the due changed after financing
    uint256 public unauthorised; // invariant 6: a call the model forbids succeeded
    uint256 public invalidAccepted; // invariant 6: a call with bad input succeeded
    uint256 public pausedSuccesses; // invariant 7: a state change succeeded while paused
    uint256 public pausedChanges; // invariant 7: a hash moved across a call made while paused
    uint256 public firstBadOp;
    uint256 public firstBadId;
    uint256 public firstBadFrom;
    uint256 public firstBadTo;
    uint256 public firstUnauthorisedOp;
    uint256 public firstMoneyOp;
    uint256 public firstInvalidOp;

    /// @notice Per operation: successes, refusals, skips (no receivable to act on).
    uint256[OPS] public successes;
    uint256[OPS] public refusals;
    uint256[OPS] public skips;

    // Buyers' EIP-712 nonces: the next fresh one and the last used or revoked one.
    mapping(address => uint256) internal _nextNonce;
    mapping(address => uint256) internal _deadNonce;
    mapping(address => mapping(uint256 => bool)) internal _nonceGone;
    uint256 internal _numberCounter;
    mapping(address => uint256) internal _lastNumber;

    /// @dev Every address that may hold settlement tokens: actors, role holders, contracts.
    address[] internal _holders;
    // While paused: each receivable's hash and the token's global hash (counters, settings,
    // balances) when the pause began; nothing may change them until unpaused.
    mapping(uint256 id => bytes32) public pausedHash;
    bytes32 public pausedGlobal;
    bytes32 internal _pausedCounters;
    address internal constant ELSEWHERE = address(uint160(uint256(keccak256("scf.elsewhere"))));
    bytes32 internal immutable DOMAIN_SEPARATOR;
    bytes32 internal constant CONFIRMATION_TYPEHASH = keccak256(
        "Confirmation(address buyer,address supplier,string number,address currency,uint256 amount,uint64 dueDate,uint256 nonce,uint256 deadline)"
    );

    /// @dev One call's "before": balances, and the receivables it touches.
    struct Snap {
        bool paused;
        bool money; // the call may move money: balances are compared

        uint256 firstNewId;
        uint256[] bal;
        int256[] exp; // the money the model expects to move, per actor (and one slot for anyone else)
        uint256 minted;
        uint256[] touched; // ids the call acts on (a whole tree for repayRoot) and ids it made
        uint256 nTouched;
    }

    constructor(
        ISystemToken token_,
        IRegistryAdmin registry_,
        ISettlementToken hkd_,
        ISettlementToken usd_,
        address[3] memory officers, // operator, admin, minter
        uint256[N] memory keys_,
        uint8[N] memory roles_,
        uint64[N] memory kyc_,
        address[] memory contracts_,
        uint256 minted
    ) {
        token = token_;
        registry = registry_;
        hkd = hkd_;
        usd = usd_;
        operator = officers[0];
        admin = officers[1];
        minter = officers[2];
        for (uint256 i; i < N; ++i) {
            keys[i] = keys_[i];
            actors[i] = vm.addr(keys_[i]);
            baseRoles[i] = roles_[i];
            roles[i] = roles_[i];
            kyc[i] = kyc_[i];
            admitted[i] = i != OUTSIDER;
            _holders.push(actors[i]);
        }
        _holders.push(operator);
        _holders.push(admin);
        _holders.push(minter);
        _holders.push(address(token));
        _holders.push(address(registry));
        _holders.push(address(hkd));
        _holders.push(address(this));
        for (uint256 i; i < contracts_.length; ++i) {
            _holders.push(contracts_[i]);
        }
        // Last: where the model books money paid to an address it does not know (it must
        // never receive any; a payment there shows as a mismatch).
        _holders.push(ELSEWHERE);
        ghostMinted = minted;
        ghostMaxTenor = token.maxTenor();
        ghostGrace = token.gracePeriod();
        DOMAIN_SEPARATOR = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256(bytes("SCF Invoice Receivable")),
                keccak256(bytes("5")),
                block.chainid,
                address(token)
            )
        );
    }

    /// @dev Arguments are used as given (setUp's starting book), not hashed.
    bool internal _verbatim;

    /// @notice For setUp: use the next calls' arguments as given (not a target of the runner).
    function verbatim(bool on) external {
        _verbatim = on;
    }

    // =====================================================================
    // Intake: issue, import (batch), confirm, confirm batch, signed confirm
    //
    // Every operation first hashes its arguments: forge draws many edge values (0, 1,
    // 2^n - 1, ...), which taken modulo small numbers would skew the choices below. The
    // test's setUp passes chosen values verbatim to build its starting book.
    // =====================================================================

    function issue(uint256 whoSeed, uint256 buyerSeed, uint256 amountSeed, uint256 dueSeed, uint256 flags) external {
        whoSeed = _mix(whoSeed, 0);
        buyerSeed = _mix(buyerSeed, 1);
        amountSeed = _mix(amountSeed, 2);
        dueSeed = _mix(dueSeed, 3);
        flags = _mix(flags, 4);
        if (maxId >= MAX_IDS) return _skip(OP_ISSUE);
        IInvoiceToken.IssueRequest[] memory q = new IInvoiceToken.IssueRequest[](1);
        uint256[] memory numbers = new uint256[](1);
        address supplier = _who(whoSeed, actors[SUPPLIERS[whoSeed % 5]]);
        // Bits as a batch's request (1 buyer inactive, 2 bad terms, 4 a repeated number); one
        // call in sixteen in a currency the manager never accepted (bad terms).
        uint256 bits = _request(q, numbers, 0, supplier, _rand(buyerSeed, amountSeed ^ dueSeed), flags);
        if (flags % 16 == 1) {
            q[0].currency = address(usd);
            bits |= 2;
        }
        Snap memory s = _begin(supplier, false);
        bool ok;
        try token.issue(q[0].buyer, q[0].number, q[0].amount, q[0].currency, q[0].dueDate, q[0].docHash) returns (
            uint256 id
        ) {
            ok = true;
            _newRoot(id, supplier, q[0].buyer, q[0].amount, numbers[0]);
            if (bits & 4 != 0) identityViolations++;
            if (bits & 2 != 0) _invalid(OP_ISSUE);
        } catch {}
        _after(OP_ISSUE, s, ok, bits & 1 == 0 && _active(supplier, SUPPLIER));
    }

    /// @notice A supplier's ERP import: one batch of 1 to 4 invoices, all or nothing.
    function importBatch(uint256 whoSeed, uint256 countSeed, uint256 seed, uint256 flags) external {
        whoSeed = _mix(whoSeed, 0);
        countSeed = _mix(countSeed, 1);
        seed = _mix(seed, 2);
        flags = _mix(flags, 3);
        uint256 n = 1 + countSeed % 4;
        if (maxId + n > MAX_IDS) return _skip(OP_IMPORT);
        address supplier = _who(whoSeed, actors[SUPPLIERS[whoSeed % 5]]);
        IInvoiceToken.IssueRequest[] memory q = new IInvoiceToken.IssueRequest[](n);
        uint256[] memory numbers = new uint256[](n);
        // Bits: 1 a buyer may not act as one, 2 bad terms, 4 a repeated number.
        uint256 bits;
        for (uint256 i; i < n; ++i) {
            bits |= _request(q, numbers, i, supplier, _rand(seed, i), flags);
        }
        Snap memory s = _begin(supplier, false);
        bool ok;
        try token.issueBatch(q) returns (uint256 first) {
            ok = true;
            for (uint256 i; i < n; ++i) {
                _newRoot(first + i, supplier, q[i].buyer, q[i].amount, numbers[i]);
            }
            if (bits & 4 != 0) identityViolations++;
            if (bits & 2 != 0) _invalid(OP_IMPORT);
        } catch {}
        _after(OP_IMPORT, s, ok, bits & 1 == 0 && _active(supplier, SUPPLIER));
    }

    /// @dev Request `i` of a batch; returns bit 1 if its buyer may not act as one, 2 if its
    /// terms are bad, 4 if it repeats a number (one batch in sixteen repeats its first
    /// number in another spelling).
    function _request(
        IInvoiceToken.IssueRequest[] memory q,
        uint256[] memory numbers,
        uint256 i,
        address supplier,
        uint256 r,
        uint256 flags
    ) internal returns (uint256 bits) {
        // One request in four is messy: a random buyer, amount and due date, any of which may
        // be refused; the rest are what an ERP would send (the supplier's own buyers, valid terms).
        bool messy = flags % 4 == 0;
        address buyer = messy ? _who(r, actors[BUYERS[(r >> 16) % 3]]) : _buyerFor(supplier, r >> 16);
        if (!_active(buyer, BUYER)) bits |= 1;
        if (buyer == supplier) bits |= 2;
        q[i].buyer = buyer;
        q[i].currency = address(hkd);
        bool bad;
        (q[i].amount, bad) = _amount(messy ? r >> 32 : (r >> 32) | 1);
        if (bad) bits |= 2;
        (q[i].dueDate, bad) = _dueDate(messy ? r >> 64 : (r >> 64) | 1);
        if (bad) bits |= 2;
        if (i > 0 && flags % 16 == 4) {
            (q[i].number, numbers[i], bad) = (_spell(numbers[0], 1), numbers[0], true);
        } else {
            (q[i].number, numbers[i], bad) = _number(supplier, i == 0 ? flags : flags >> 8);
        }
        if (bad) bits |= 4;
        q[i].docHash = bytes32(numbers[i]);
    }

    function confirm(uint256 idSeed, uint256 whoSeed) external {
        idSeed = _mix(idSeed, 0);
        whoSeed = _mix(whoSeed, 1);
        uint256 id = _pick(idSeed, uint256(1) << ISSUED);
        if (id == 0) return _skip(OP_CONFIRM);
        Ghost storage g = _g[id];
        address caller = _who(whoSeed, g.buyer);
        bool authorised = caller == g.buyer && _active(g.buyer, BUYER);
        (Snap memory s, bool ok) = _call(token.confirm, id, caller, false);
        if (ok && !_in(id, uint256(1) << ISSUED)) _invalid(OP_CONFIRM);
        _after(OP_CONFIRM, s, ok, authorised);
    }

    /// @notice A buyer confirms up to four of its issued invoices in one call.
    function confirmBatch(uint256 idSeed, uint256 whoSeed, uint256 countSeed) external {
        idSeed = _mix(idSeed, 0);
        whoSeed = _mix(whoSeed, 1);
        countSeed = _mix(countSeed, 2);
        uint256 first = _pick(idSeed, uint256(1) << ISSUED);
        if (first == 0) return _skip(OP_CONFIRM_BATCH);
        address buyer = _g[first].buyer;
        uint256[] memory ids = new uint256[](1 + countSeed % 4);
        ids[0] = first;
        uint256 k = 1;
        for (uint256 id = first + 1; id <= maxId && k < ids.length; ++id) {
            if (_g[id].status == ISSUED && _g[id].buyer == buyer) ids[k++] = id;
        }
        assembly ("memory-safe") {
            mstore(ids, k)
        }
        address caller = _who(whoSeed, buyer);
        bool authorised = caller == buyer && _active(buyer, BUYER);
        Snap memory s = _begin(caller, false);
        for (uint256 i; i < k; ++i) {
            _touch(s, ids[i]);
        }
        bool ok;
        try token.confirmBatch(ids) {
            ok = true;
            if (!_in(first, uint256(1) << ISSUED)) _invalid(OP_CONFIRM_BATCH);
        } catch {}
        _after(OP_CONFIRM_BATCH, s, ok, authorised);
    }

    /// @notice A buyer's EIP-712 confirmation, relayed by anyone. Sometimes signed by the
    /// wrong key, replayed (a used or revoked nonce), expired, or for changed terms.
    function confirmSigned(uint256 idSeed, uint256 signerSeed, uint256 relayerSeed, uint256 flags) external {
        idSeed = _mix(idSeed, 0);
        signerSeed = _mix(signerSeed, 1);
        relayerSeed = _mix(relayerSeed, 2);
        flags = _mix(flags, 3);
        uint256 id = _pick(idSeed, uint256(1) << ISSUED);
        if (id == 0) return _skip(OP_CONFIRM_SIGNED);
        Ghost storage g = _g[id];
        uint256 signer = signerSeed % 8 == 0 ? (signerSeed >> 8) % N : _idx(g.buyer);
        if (signer >= N) return _skip(OP_CONFIRM_SIGNED);
        uint256 f = flags % 16;
        IInvoiceToken.SignedConfirmation[] memory c = _confirmation(g, f);
        c[0].signature = _sign(keys[signer], c[0]);
        bool authorised = actors[signer] == g.buyer && _active(g.buyer, BUYER) && !_nonceGone[g.buyer][c[0].nonce];
        Snap memory s = _begin(actors[relayerSeed % N], false, id);
        bool ok;
        try token.confirmWithSignatures(c) {
            ok = true;
            // Expired or for changed terms: must be refused.
            if (f == 1 || f == 2 || !_in(id, uint256(1) << ISSUED)) _invalid(OP_CONFIRM_SIGNED);
            _kill(g.buyer, c[0].nonce);
        } catch {}
        _after(OP_CONFIRM_SIGNED, s, ok, authorised);
    }

    /// @dev The confirmation the buyer signs for the receivable `g`: a fresh nonce, or (f == 0) its last used
    /// or revoked one; f == 1 expired, f == 2 for a changed amount, f == 3 the number spelt another way.
    function _confirmation(Ghost storage g, uint256 f) internal returns (IInvoiceToken.SignedConfirmation[] memory c) {
        uint256 nonce = _nextNonce[g.buyer];
        if (f == 0 && _nonceGone[g.buyer][_deadNonce[g.buyer]]) nonce = _deadNonce[g.buyer];
        else _nextNonce[g.buyer] = nonce + 1;
        c = new IInvoiceToken.SignedConfirmation[](1);
        c[0] = IInvoiceToken.SignedConfirmation({
            buyer: g.buyer,
            supplier: g.supplier,
            number: _spell(g.number, f == 3 ? 2 : 0),
            currency: address(hkd),
            amount: f == 2 ? g.face + 1 : g.face,
            dueDate: g.dueDate,
            nonce: nonce,
            deadline: f == 1 ? block.timestamp - 1 : block.timestamp + 1 days,
            signature: ""
        });
    }

    /// @notice A buyer revokes its next nonce (allowed while paused: the emergency brake).
    function revokeNonce(uint256 buyerSeed) external {
        buyerSeed = _mix(buyerSeed, 0);
        address buyer = actors[BUYERS[buyerSeed % 3]];
        uint256 nonce = _nextNonce[buyer]++;
        Snap memory s = _begin(buyer, false);
        bool ok;
        try token.revokeConfirmationNonces(nonce >> 8, uint256(1) << (nonce & 0xff)) {
            ok = true;
            _kill(buyer, nonce);
        } catch {}
        _after(OP_REVOKE_NONCE, s, ok, true);
    }

    function cancel(uint256 idSeed, uint256 whoSeed) external {
        idSeed = _mix(idSeed, 0);
        whoSeed = _mix(whoSeed, 1);
        uint256 id = _pick(idSeed, uint256(1) << ISSUED);
        if (id == 0) return _skip(OP_CANCEL);
        Ghost storage g = _g[id];
        address caller = _who(whoSeed, g.supplier);
        bool authorised = caller == g.supplier && _active(g.supplier, SUPPLIER);
        (Snap memory s, bool ok) = _call(token.cancel, id, caller, false);
        if (ok) {
            if (!_in(id, uint256(1) << ISSUED)) _invalid(OP_CANCEL);
            _move(g, address(0));
        }
        _after(OP_CANCEL, s, ok, authorised);
    }

    // =====================================================================
    // Listing and financing
    // =====================================================================

    function offer(uint256 idSeed, uint256 whoSeed, uint256 finSeed, uint256 askSeed, uint256 flags) external {
        idSeed = _mix(idSeed, 0);
        whoSeed = _mix(whoSeed, 1);
        finSeed = _mix(finSeed, 2);
        askSeed = _mix(askSeed, 3);
        flags = _mix(flags, 4);
        // One in four picks a financed one, partly paid (if any): it must be refused, one
        // financing ever.
        uint256 id = flags % 4 == 0 ? _pickFinanced(idSeed) : 0;
        if (id == 0) id = _pickUnfinanced(idSeed, FINANCEABLE);
        if (id == 0) return _skip(OP_OFFER);
        (IInvoiceToken.Listing memory l, bool valid) = _listing(id, finSeed, askSeed, (flags >> 8) % 2 == 0);
        Ghost storage g = _g[id];
        address caller = _who(whoSeed, g.owner);
        bool authorised = caller == g.owner && _active(g.owner, 0);
        Snap memory s = _begin(caller, false, id);
        bool ok;
        try token.offerForFinancing(id, l.financier, l.minAdvance, l.expiry, l.recourse) {
            ok = true;
            if (!valid || g.financeCount != 0 || !_in(id, FINANCEABLE)) _invalid(OP_OFFER);
        } catch {}
        _after(OP_OFFER, s, ok, authorised);
    }

    /// @dev A listing for `id`: a named financier (sometimes a random actor) or anyone; an ask
    /// within the open amount (one in sixteen the whole of it or a unit more: refused); a
    /// month at most.
    function _listing(uint256 id, uint256 finSeed, uint256 askSeed, bool recourse)
        internal
        view
        returns (IInvoiceToken.Listing memory l, bool valid)
    {
        uint256 open = _open(id);
        l.financier = finSeed % 2 == 0 ? address(0) : _who(finSeed >> 8, actors[FINANCIERS[(finSeed >> 1) % 2]]);
        l.minAdvance = askSeed % 16 == 0 || open == 0 ? open + (askSeed >> 8) % 2 : 1 + (askSeed >> 8) % open;
        l.expiry = uint64(block.timestamp + 1 hours + (askSeed >> 128) % 30 days);
        l.recourse = recourse;
        valid = l.minAdvance >= 1 && l.minAdvance <= open;
    }

    function withdrawOffer(uint256 idSeed, uint256 whoSeed) external {
        idSeed = _mix(idSeed, 0);
        whoSeed = _mix(whoSeed, 1);
        uint256 id = _pickListed(idSeed, false);
        if (id == 0) return _skip(OP_WITHDRAW_OFFER);
        address holder = _g[id].owner;
        address caller = _who(whoSeed, holder);
        (Snap memory s, bool ok) = _call(token.withdrawOffer, id, caller, false);
        _after(OP_WITHDRAW_OFFER, s, ok, caller == holder);
    }

    function finance(uint256 idSeed, uint256 whoSeed, uint256 advSeed, uint256 flags) external {
        idSeed = _mix(idSeed, 0);
        whoSeed = _mix(whoSeed, 1);
        advSeed = _mix(advSeed, 2);
        flags = _mix(flags, 3);
        uint256 id = _pickListed(idSeed, true);
        if (id == 0) return _skip(OP_FINANCE);
        Ghost storage g = _g[id];
        IInvoiceToken.Listing memory l = token.getListing(id);
        // The financier the listing names, or one that is not the holder itself.
        address named = l.financier != address(0) ? l.financier : actors[FINANCIERS[whoSeed % 2]];
        if (named == g.owner) named = actors[FINANCIERS[(whoSeed + 1) % 2]];
        // One call in four is made by a participant that is not a financier (it must be refused,
        // even on a listing open to any financier).
        address caller = flags % 4 == 3 ? actors[NON_FINANCIERS[(whoSeed >> 8) % 8]] : _who(whoSeed, named);
        IInvoiceToken.FinancingTerms memory t = _terms(id, l, g.owner, advSeed, flags);
        // The receivable moves from the seller to the financier: both must be active.
        bool authorised = _active(caller, FINANCIER) && _active(g.owner, 0)
            && (l.financier == address(0) || l.financier == caller) && caller != g.owner;
        Snap memory s = _begin(caller, true, id);
        bool ok;
        try token.finance(id, t) {
            ok = true;
            // A wrong seller, stale terms or a passed deadline must be refused.
            if (t.seller != g.owner || flags % 16 == 1 || flags % 16 == 2) _invalid(OP_FINANCE);
            g.financeCount++;
            g.seller = g.owner;
            g.due = t.due;
            g.advance = t.advance;
            g.recourse = t.recourse;
            _pay(s, caller, g.owner, t.advance);
            _move(g, caller);
        } catch {}
        _after(OP_FINANCE, s, ok, authorised);
    }

    /// @dev Terms a financier would price from the chain, spoiled one time in sixteen each way:
    /// a wrong seller, a stale amount, a passed deadline.
    function _terms(uint256 id, IInvoiceToken.Listing memory l, address holder, uint256 advSeed, uint256 flags)
        internal
        view
        returns (IInvoiceToken.FinancingTerms memory t)
    {
        Ghost storage g = _g[id];
        uint256 open = _open(id);
        if (open == 0) return t;
        uint256 ask = l.minAdvance == 0 ? 1 : l.minAdvance;
        if (ask > open) ask = open;
        t.advance = ask + (advSeed % (open - ask + 1));
        t.due = t.advance + ((advSeed >> 96) % (open - t.advance + 1));
        uint256 f = flags % 16;
        t.seller = f == 0 ? actors[(flags >> 8) % N] : holder;
        t.amount = g.face - g.credited + (f == 1 ? 1 : 0);
        t.paid = g.buyerPaid;
        t.dueDate = g.dueDate;
        t.deadline = f == 2 ? uint64(block.timestamp - 1) : uint64(block.timestamp + 1 hours);
        t.recourse = l.recourse && (flags >> 16) % 2 == 0;
        t.gracePeriod =
            t.recourse ? ghostGrace + uint32((advSeed >> 160) % 30 days) : uint32((advSeed >> 160) % 60 days);
    }

    // =====================================================================
    // Repayment
    // =====================================================================

    function repay(uint256 idSeed, uint256 whoSeed, uint256 amountSeed) external {
        idSeed = _mix(idSeed, 0);
        whoSeed = _mix(whoSeed, 1);
        amountSeed = _mix(amountSeed, 2);
        uint256 id = _pick(idSeed, PAYABLE);
        if (id == 0) return _skip(OP_REPAY);
        uint256 open = _open(id);
        uint256 amount =
            open == 0 ? 1 : amountSeed % 4 == 0 ? open : amountSeed % 16 == 1 ? open + 1 : 1 + (amountSeed >> 8) % open;
        Ghost storage g = _g[id];
        address caller = _who(whoSeed, g.buyer);
        Snap memory s = _begin(caller, true, id);
        bool ok;
        try token.repay(id, amount) {
            ok = true;
            if (amount > open || !_in(id, PAYABLE)) _invalid(OP_REPAY);
            _bookOne(s, id, caller, amount);
        } catch {}
        _after(OP_REPAY, s, ok, caller == g.buyer);
    }

    /// @notice The buyer pays a split receivable (the root or a split part) pro rata across its
    /// payable leaves; one call in eight targets an unsplit receivable (paid as one).
    function repayRoot(uint256 idSeed, uint256 whoSeed, uint256 amountSeed) external {
        idSeed = _mix(idSeed, 0);
        whoSeed = _mix(whoSeed, 1);
        amountSeed = _mix(amountSeed, 2);
        uint256 node = whoSeed % 8 == 1 ? _pick(idSeed, PAYABLE) : _pick(idSeed, uint256(1) << SPLIT);
        if (node == 0) return _skip(OP_REPAY_ROOT);
        (uint256[] memory ids, uint256[] memory open, uint256 total) = _tree(node);
        uint256 amount = total == 0
            ? 1
            : amountSeed % 4 == 0 ? total : amountSeed % 16 == 1 ? total + 1 : 1 + (amountSeed >> 8) % total;
        address buyer = _g[node].buyer;
        address caller = _who(whoSeed, buyer);
        Snap memory s = _begin(caller, true);
        for (uint256 i; i < ids.length; ++i) {
            _touch(s, ids[i]);
        }
        bool ok;
        try token.repayRoot(node, amount) {
            ok = true;
            if (amount > total || !_in(node, PAYABLE | (uint256(1) << SPLIT))) _invalid(OP_REPAY_ROOT);
            // Each leaf's share as documented (floor(amount * open / total), the rest one unit
            // each in id order), booked as one payment; the scan compares the chain's.
            uint256[] memory share = _proRata(open, total, amount);
            for (uint256 i; i < ids.length; ++i) {
                if (share[i] != 0) _bookOne(s, ids[i], caller, share[i]);
            }
        } catch {}
        _after(OP_REPAY_ROOT, s, ok, caller == buyer);
    }

    /// @dev The tree {repayRoot} pays: its ids (the root, then its parts in id order) and the
    /// open amounts of the payable leaves under `node` (all of it, for an unsplit receivable).
    function _tree(uint256 node) internal view returns (uint256[] memory ids, uint256[] memory open, uint256 total) {
        bool splitNode = _g[node].status == SPLIT;
        uint256 root = splitNode ? _g[node].root : node;
        uint256[] storage parts = _partsOf[root];
        uint256 n = parts.length + 1;
        ids = new uint256[](n);
        open = new uint256[](n);
        ids[0] = root;
        for (uint256 i; i < n; ++i) {
            uint256 id = i == 0 ? root : parts[i - 1];
            ids[i] = id;
            if (splitNode ? (uint256(1) << _g[id].status) & PAYABLE != 0 && _descends(id, node) : id == node) {
                open[i] = _open(id);
                total += open[i];
            }
        }
    }

    /// @dev The shares {IInvoiceToken-repayRoot} documents, computed here independently.
    function _proRata(uint256[] memory open, uint256 total, uint256 amount)
        internal
        pure
        returns (uint256[] memory share)
    {
        share = new uint256[](open.length);
        if (amount > total) return share;
        uint256 left = amount;
        for (uint256 i; i < open.length; ++i) {
            share[i] = amount * open[i] / total;
            left -= share[i];
        }
        for (uint256 i; i < open.length && left != 0; ++i) {
            if (share[i] < open[i]) {
                ++share[i];
                --left;
            }
        }
    }

    /// @dev Books a payment of `amount` on `id` by `payer`: the waterfall the terms say (the
    /// financier side up to its due, the reserve to the seller), the money the model expects
    /// to move, and the ghosts (which the scan after the call compares with the chain).
    function _bookOne(Snap memory s, uint256 id, address payer, uint256 amount) internal {
        Ghost storage g = _g[id];
        uint256 toHolder = amount;
        if (g.seller != address(0)) {
            uint256 owed = _sub(g.due, g.finSide);
            if (toHolder > owed) toHolder = owed;
            g.finSide += toHolder;
        }
        g.buyerPaid += amount;
        _pay(s, payer, g.owner, toHolder);
        _pay(s, payer, g.seller, amount - toHolder);
    }

    // =====================================================================
    // Multi-tier: split, transfer, approve + transferFrom
    // =====================================================================

    function split(uint256 idSeed, uint256 whoSeed, uint256 nSeed, uint256 seed) external {
        idSeed = _mix(idSeed, 0);
        whoSeed = _mix(whoSeed, 1);
        nSeed = _mix(nSeed, 2);
        seed = _mix(seed, 3);
        // Not yet due, mostly: a matured receivable is collected, not split.
        uint256 id = _pickSplittable(idSeed);
        if (id == 0) id = _pickUnfinanced(idSeed, FINANCEABLE);
        if (id == 0) return _skip(OP_SPLIT);
        // 2..4 parts mostly, sometimes up to 10, one call in sixteen 1 or 11 (refused).
        uint256 n =
            nSeed % 16 == 0 ? (nSeed % 32 == 0 ? 1 : 11) : nSeed % 8 == 1 ? 5 + (nSeed >> 8) % 6 : 2 + (nSeed >> 8) % 3;
        if (maxId + n > MAX_IDS) return _skip(OP_SPLIT);
        (IInvoiceToken.Part[] memory parts, uint256 bits) = _parts(id, n, seed);
        Ghost storage g = _g[id];
        address caller = _who(whoSeed, g.owner);
        bool authorised = bits & 1 == 0 && caller == g.owner && _active(g.owner, 0);
        Snap memory s = _begin(caller, false, id);
        bool ok;
        try token.split(id, parts) returns (uint256 first) {
            ok = true;
            if (bits & 2 != 0 || !_in(id, FINANCEABLE) || g.financeCount != 0) _invalid(OP_SPLIT);
            for (uint256 i; i < n; ++i) {
                _newPart(first + i, id, parts[i]);
            }
        } catch {}
        _after(OP_SPLIT, s, ok, authorised);
    }

    /// @dev `n` parts of `id`'s open amount to random participants (the outsider is refused);
    /// one split in sixteen is a minor unit off (refused: parts sum to the open amount).
    /// Bits: 1 a part's holder may not act, 2 the split is invalid.
    function _parts(uint256 id, uint256 n, uint256 seed)
        internal
        view
        returns (IInvoiceToken.Part[] memory parts, uint256 bits)
    {
        uint256 open = _open(id);
        parts = new IInvoiceToken.Part[](n);
        uint256 left = open;
        for (uint256 i; i < n; ++i) {
            uint256 r = _rand(seed, i);
            uint256 a;
            if (i + 1 == n) a = left;
            else if (left > n - i) a = 1 + (r % (left - (n - i) + 1)) / (n - i);
            else a = left == 0 ? 0 : 1;
            left -= a;
            // Part holders: participants; one split in sixteen pays the outsider (refused).
            address holder = seed % 16 == 2 && i == 0 ? actors[OUTSIDER] : actors[(r >> 128) % OUTSIDER];
            parts[i] = IInvoiceToken.Part(holder, a, bytes32(r));
            if (!_active(parts[i].holder, 0)) bits |= 1;
        }
        if (seed % 16 == 0) {
            parts[0].amount += 1;
            bits |= 2;
        } else if (seed % 16 == 1 && parts[0].amount > 1) {
            parts[0].amount -= 1;
            bits |= 2;
        }
        if (n < 2 || n > 10 || open < n) bits |= 2;
    }

    function transfer(uint256 idSeed, uint256 whoSeed, uint256 toSeed) external {
        idSeed = _mix(idSeed, 0);
        whoSeed = _mix(whoSeed, 1);
        toSeed = _mix(toSeed, 2);
        uint256 id = toSeed % 8 == 0 ? _pickOwned(idSeed) : _pick(idSeed, OPEN);
        if (id == 0) return _skip(OP_TRANSFER);
        Ghost storage g = _g[id];
        address to = actors[toSeed % N];
        address caller = _who(whoSeed, g.owner);
        bool authorised = caller == g.owner && _active(g.owner, 0) && _active(to, 0) && _isOpen(g.status);
        Snap memory s = _begin(caller, false, id);
        bool ok;
        try token.transferWithReference(id, to, bytes32(toSeed)) {
            ok = true;
            _move(g, to);
        } catch {}
        _after(OP_TRANSFER, s, ok, authorised);
    }

    function approve(uint256 idSeed, uint256 whoSeed, uint256 spenderSeed) external {
        idSeed = _mix(idSeed, 0);
        whoSeed = _mix(whoSeed, 1);
        spenderSeed = _mix(spenderSeed, 2);
        uint256 id = _pickOwned(idSeed);
        if (id == 0) return _skip(OP_APPROVE);
        Ghost storage g = _g[id];
        address spender = actors[spenderSeed % N];
        address caller = _who(whoSeed, g.owner);
        Snap memory s = _begin(caller, false, id);
        bool ok;
        try token.approve(spender, id) {
            ok = true;
            g.approved = spender;
        } catch {}
        _after(OP_APPROVE, s, ok, caller == g.owner && _active(g.owner, 0));
    }

    /// @notice ERC-721's own transfer, by the holder or the spender it approved: the same
    /// rules as any transfer of a receivable.
    function transferFrom(uint256 idSeed, uint256 whoSeed, uint256 toSeed) external {
        idSeed = _mix(idSeed, 0);
        whoSeed = _mix(whoSeed, 1);
        toSeed = _mix(toSeed, 2);
        uint256 id = _pick(idSeed, OPEN);
        if (id == 0) return _skip(OP_TRANSFER_FROM);
        Ghost storage g = _g[id];
        address to = actors[toSeed % N];
        address right = g.approved != address(0) ? g.approved : g.owner;
        address caller = _who(whoSeed, right);
        bool authorised =
            (caller == g.owner || caller == g.approved) && _active(g.owner, 0) && _active(to, 0) && _isOpen(g.status);
        address holder = g.owner;
        Snap memory s = _begin(caller, false, id);
        bool ok;
        try token.transferFrom(holder, to, id) {
            ok = true;
            _move(g, to);
        } catch {}
        _after(OP_TRANSFER_FROM, s, ok, authorised);
    }

    // =====================================================================
    // Remedies: dispute, credit note, extension, default, write-off, buy-back
    // =====================================================================

    function dispute(uint256 idSeed, uint256 whoSeed) external {
        idSeed = _mix(idSeed, 0);
        whoSeed = _mix(whoSeed, 1);
        uint256 id = _pick(idSeed, OPEN);
        if (id == 0) return _skip(OP_DISPUTE);
        Ghost storage g = _g[id];
        address caller = _who(whoSeed, g.buyer);
        Snap memory s = _begin(caller, false, id);
        bool ok;
        try token.dispute(id, bytes32(whoSeed)) {
            ok = true;
            if (!_in(id, OPEN)) _invalid(OP_DISPUTE);
        } catch {}
        _after(OP_DISPUTE, s, ok, caller == g.buyer);
    }

    function withdrawDispute(uint256 idSeed, uint256 whoSeed) external {
        idSeed = _mix(idSeed, 0);
        whoSeed = _mix(whoSeed, 1);
        uint256 id = _pick(idSeed, uint256(1) << DISPUTED);
        if (id == 0) return _skip(OP_WITHDRAW_DISPUTE);
        Ghost storage g = _g[id];
        address caller = _who(whoSeed, g.buyer);
        (Snap memory s, bool ok) = _call(token.withdrawDispute, id, caller, false);
        if (ok && !_in(id, uint256(1) << DISPUTED)) _invalid(OP_WITHDRAW_DISPUTE);
        _after(OP_WITHDRAW_DISPUTE, s, ok, caller == g.buyer);
    }

    /// @notice The creditor (the seller of a financed receivable, else its holder) reduces it;
    /// under a financing the seller pays the financier what the reduced amount no longer covers.
    function creditNote(uint256 idSeed, uint256 whoSeed, uint256 creditSeed) external {
        idSeed = _mix(idSeed, 0);
        whoSeed = _mix(whoSeed, 1);
        creditSeed = _mix(creditSeed, 2);
        uint256 id = _pick(idSeed, OPEN | (uint256(1) << DISPUTED));
        if (id == 0) return _skip(OP_CREDIT_NOTE);
        Credit memory c = _credit(id, creditSeed);
        address caller = _who(whoSeed, c.creditor);
        Snap memory s = _begin(caller, true, id);
        bool ok;
        try token.issueCreditNote(id, c.credit, bytes32(creditSeed)) {
            ok = true;
            if (c.credit > c.open || !_in(id, OPEN | (uint256(1) << DISPUTED))) _invalid(OP_CREDIT_NOTE);
            Ghost storage g = _g[id];
            g.credited += c.credit;
            g.finSide += c.toHolder;
            _pay(s, caller, c.holder, c.toHolder);
        } catch {}
        _after(OP_CREDIT_NOTE, s, ok, caller == c.creditor);
    }

    struct Credit {
        uint256 open;
        uint256 credit;
        uint256 toHolder;
        address creditor;
        address holder;
    }

    /// @dev A credit note on `id`: the whole open amount one time in four, a unit more than it
    /// one in sixteen (refused); and what the seller must pay the financier for it: what the
    /// reduced open amount no longer covers of the financier's due (dilution is the seller's risk).
    function _credit(uint256 id, uint256 creditSeed) internal view returns (Credit memory c) {
        Ghost storage g = _g[id];
        c.open = _open(id);
        c.credit = c.open == 0
            ? 1
            : creditSeed % 4 == 0 ? c.open : creditSeed % 16 == 1 ? c.open + 1 : 1 + (creditSeed >> 8) % c.open;
        c.creditor = g.seller != address(0) ? g.seller : g.owner;
        c.holder = g.owner;
        if (c.holder != c.creditor) {
            uint256 owed = _sub(g.due, g.finSide);
            if (c.credit <= c.open && owed > c.open - c.credit) c.toHolder = owed - (c.open - c.credit);
        }
    }

    function proposeExtension(uint256 idSeed, uint256 whoSeed, uint256 daysSeed) external {
        idSeed = _mix(idSeed, 0);
        whoSeed = _mix(whoSeed, 1);
        daysSeed = _mix(daysSeed, 2);
        uint256 id = _pick(idSeed, OPEN);
        if (id == 0) return _skip(OP_PROPOSE_EXTENSION);
        Ghost storage g = _g[id];
        uint64 newDue = uint64(g.dueDate + 1 days + daysSeed % 60 days);
        address caller = _who(whoSeed, g.buyer);
        Snap memory s = _begin(caller, false, id);
        bool ok;
        try token.proposeExtension(id, newDue) {
            ok = true;
            if (!_in(id, OPEN)) _invalid(OP_PROPOSE_EXTENSION);
        } catch {}
        _after(OP_PROPOSE_EXTENSION, s, ok, caller == g.buyer && _active(g.buyer, BUYER));
    }

    function acceptExtension(uint256 idSeed, uint256 whoSeed, uint256 flags) external {
        idSeed = _mix(idSeed, 0);
        whoSeed = _mix(whoSeed, 1);
        flags = _mix(flags, 2);
        uint256 id = _pickProposed(idSeed);
        if (id == 0) return _skip(OP_ACCEPT_EXTENSION);
        Ghost storage g = _g[id];
        uint64 proposed = g.proposed;
        uint64 date = flags % 8 == 0 ? proposed + 1 : proposed;
        address caller = _who(whoSeed, g.owner);
        bool authorised = caller == g.owner && _active(g.owner, 0);
        Snap memory s = _begin(caller, false, id);
        bool ok;
        try token.acceptExtension(id, date) {
            ok = true;
            if (date != proposed || !_in(id, OPEN)) _invalid(OP_ACCEPT_EXTENSION);
        } catch {}
        _after(OP_ACCEPT_EXTENSION, s, ok, authorised);
    }

    function declareDefault(uint256 idSeed, uint256 whoSeed) external {
        idSeed = _mix(idSeed, 0);
        whoSeed = _mix(whoSeed, 1);
        uint256 id = _pickOverdue(idSeed);
        if (id == 0) return _skip(OP_DEFAULT);
        Ghost storage g = _g[id];
        address caller = _who(whoSeed, g.owner);
        (Snap memory s, bool ok) = _call(token.declareDefault, id, caller, false);
        if (ok && (!_in(id, OPEN) || block.timestamp <= uint256(_g[id].dueDate) + _g[id].grace)) _invalid(OP_DEFAULT);
        _after(OP_DEFAULT, s, ok, caller == g.owner);
    }

    function writeOff(uint256 idSeed, uint256 whoSeed) external {
        idSeed = _mix(idSeed, 0);
        whoSeed = _mix(whoSeed, 1);
        uint256 id = _pick(idSeed, uint256(1) << DEFAULTED);
        if (id == 0) return _skip(OP_WRITE_OFF);
        Ghost storage g = _g[id];
        address caller = _who(whoSeed, g.owner);
        (Snap memory s, bool ok) = _call(token.writeOff, id, caller, false);
        if (ok && !_in(id, uint256(1) << DEFAULTED)) _invalid(OP_WRITE_OFF);
        _after(OP_WRITE_OFF, s, ok, caller == g.owner);
    }

    /// @notice Recourse: the seller buys a defaulted receivable back, paying the holder
    /// what it is still owed (the holder or the seller may call).
    function buyBack(uint256 idSeed, uint256 whoSeed) external {
        idSeed = _mix(idSeed, 0);
        whoSeed = _mix(whoSeed, 1);
        // A defaulted receivable financed with recourse, if there is one.
        uint256 id = _pickRecourse(idSeed);
        if (id == 0) id = _pick(idSeed, uint256(1) << DEFAULTED);
        if (id == 0) return _skip(OP_BUY_BACK);
        Ghost storage g = _g[id];
        address holder = g.owner;
        address seller = g.seller;
        address caller = _who(whoSeed, whoSeed % 2 == 0 && seller != address(0) ? seller : holder);
        uint256 owed = _sub(g.due, g.finSide);
        (Snap memory s, bool ok) = _call(token.buyBack, id, caller, true);
        if (ok) {
            if (!_in(id, uint256(1) << DEFAULTED)) _invalid(OP_BUY_BACK);
            g.finSide += owed;
            _pay(s, seller, holder, owed);
            _move(g, seller);
        }
        _after(OP_BUY_BACK, s, ok, seller != address(0) && (caller == holder || caller == seller));
    }

    // =====================================================================
    // Governance: pause, roles and KYC, time, money supply, attacks
    // =====================================================================

    /// @notice The operator pauses one call in four (so the network is paused about a
    /// fifth of the time); another actor sometimes tries.
    function pause(uint256 whoSeed) external {
        whoSeed = _mix(whoSeed, 0);
        if (whoSeed % 4 != 0) return _skip(OP_PAUSE);
        address caller = _who(whoSeed >> 8, operator);
        Snap memory s = _begin(caller, false);
        bool ok;
        try token.pause() {
            ok = true;
            ghostPaused = true;
        } catch {}
        _after(OP_PAUSE, s, ok, caller == operator);
    }

    function unpause(uint256 whoSeed) external {
        whoSeed = _mix(whoSeed, 0);
        address caller = _who(whoSeed, operator);
        Snap memory s = _begin(caller, false);
        bool ok;
        try token.unpause() {
            ok = true;
            ghostPaused = false;
        } catch {}
        _after(OP_UNPAUSE, s, ok, caller == operator);
    }

    /// @notice Time passes: an hour to two weeks, one jump in eight a month to three.
    function warp(uint256 secondsSeed) external {
        secondsSeed = _mix(secondsSeed, 0);
        uint256 step =
            secondsSeed % 8 == 0 ? 30 days + (secondsSeed >> 8) % 60 days : 1 hours + (secondsSeed >> 8) % 14 days;
        Snap memory s = _before(false);
        vm.warp(block.timestamp + step);
        _after(OP_WARP, s, true, true);
    }

    /// @notice The operator changes a participant's roles and KYC expiry (one time in eight to
    /// one that lapses within days, so KYC expiry happens within a run).
    function setParticipant(uint256 whoSeed, uint256 idxSeed, uint256 rolesSeed, uint256 kycSeed) external {
        whoSeed = _mix(whoSeed, 0);
        idxSeed = _mix(idxSeed, 1);
        rolesSeed = _mix(rolesSeed, 2);
        kycSeed = _mix(kycSeed, 3);
        uint256 i = idxSeed % OUTSIDER;
        uint8 base = baseRoles[i];
        uint256 pick = rolesSeed % 8;
        uint8 newRoles = pick == 0 ? AUDITOR : pick == 1 ? base | AUDITOR : pick == 2 ? 7 : base;
        uint64 expiry = uint64(
            block.timestamp
                + (kycSeed % 8 == 0 ? 1 hours + (kycSeed >> 8) % 3 days : 30 days + (kycSeed >> 8) % 365 days)
        );
        address caller = _who(whoSeed, operator);
        Snap memory s = _begin(caller, false);
        bool ok;
        try registry.updateParticipant(actors[i], newRoles, expiry) {
            ok = true;
            roles[i] = newRoles;
            kyc[i] = expiry;
        } catch {}
        _after(OP_SET_PARTICIPANT, s, ok, caller == operator);
    }

    /// @notice The operator suspends a participant (one call in six) or reinstates one, so
    /// about a sixth of them are suspended at a time.
    function suspend(uint256 whoSeed, uint256 idxSeed) external {
        whoSeed = _mix(whoSeed, 0);
        idxSeed = _mix(idxSeed, 1);
        uint256 i = idxSeed % OUTSIDER;
        bool reinstate = (idxSeed >> 8) % 6 != 0;
        address caller = _who(whoSeed, operator);
        Snap memory s = _begin(caller, false);
        bool ok;
        if (reinstate) {
            try registry.reinstate(actors[i]) {
                ok = true;
                suspended[i] = false;
            } catch {}
        } else {
            try registry.suspend(actors[i]) {
                ok = true;
                suspended[i] = true;
            } catch {}
        }
        _after(OP_SUSPEND, s, ok, caller == operator);
    }

    /// @notice The minter creates money for a participant (the only way supply grows).
    function fund(uint256 whoSeed, uint256 idxSeed, uint256 amountSeed) external {
        whoSeed = _mix(whoSeed, 0);
        idxSeed = _mix(idxSeed, 1);
        amountSeed = _mix(amountSeed, 2);
        address to = actors[idxSeed % N];
        uint256 amount = 1 + amountSeed % 1e10;
        address caller = _who(whoSeed, minter);
        Snap memory s = _begin(caller, true);
        bool ok;
        try hkd.mint(to, amount) {
            ok = true;
            ghostMinted += amount;
            s.minted = amount;
            s.exp[_idx(to)] += int256(amount);
        } catch {}
        _after(OP_FUND, s, ok, caller == minter);
    }

    /// @notice Someone without the role tries a privileged call. Every success is a breach.
    function attack(uint256 kindSeed, uint256 whoSeed) external {
        kindSeed = _mix(kindSeed, 0);
        whoSeed = _mix(whoSeed, 1);
        address caller = actors[whoSeed % N];
        uint256 kind = kindSeed % 10;
        bytes32 operatorRole = token.OPERATOR_ROLE();
        Snap memory s = _begin(caller, false);
        bool ok;
        if (kind == 0) {
            try token.pause() {
                ok = true;
            } catch {}
        } else if (kind == 1) {
            try token.unpause() {
                ok = true;
            } catch {}
        } else if (kind == 2) {
            try token.setMaxTenor(uint64(1 days + kindSeed % 3650 days)) {
                ok = true;
            } catch {}
        } else if (kind == 3) {
            try token.setGracePeriod(uint32(kindSeed % 30 days)) {
                ok = true;
            } catch {}
        } else if (kind == 4) {
            try token.setCurrencyAccepted(address(usd), true) {
                ok = true;
            } catch {}
        } else if (kind == 5) {
            try token.grantRole(operatorRole, caller) {
                ok = true;
            } catch {}
        } else if (kind == 6) {
            try registry.updateParticipant(caller, 15, uint64(block.timestamp + 365 days)) {
                ok = true;
            } catch {}
        } else if (kind == 7) {
            try registry.admit(
                address(uint160(uint256(keccak256(abi.encode(kindSeed))))),
                "Mallory",
                7,
                uint64(block.timestamp + 365 days)
            ) {
                ok = true;
            } catch {}
        } else if (kind == 8) {
            try hkd.mint(caller, 1e6) {
                ok = true;
            } catch {}
        } else {
            try registry.suspend(actors[(whoSeed >> 8) % OUTSIDER]) {
                ok = true;
            } catch {}
        }
        _after(OP_ATTACK, s, ok, false);
    }

    // =====================================================================
    // Bookkeeping
    // =====================================================================

    function _before(bool money) internal view returns (Snap memory s) {
        s.paused = ghostPaused;
        s.money = money;
        s.firstNewId = maxId + 1;
        // Only the money legs (finance, repayments, credit notes, buy-backs, minting) call the
        // settlement token: their balances are compared; invariant 1 sums every balance.
        if (money) s.bal = _actorBalances();
        s.exp = new int256[](N + 1);
        // A tree has at most 65 receivables, a call makes at most 10.
        s.touched = new uint256[](80);
    }

    /// @dev After every call: stats, authorisation, pause, money, and status transitions.
    function _after(uint8 op, Snap memory s, bool ok, bool authorised) internal {
        if (ok) successes[op]++;
        else refusals[op]++;
        if (ok && !authorised) {
            if (unauthorised++ == 0) firstUnauthorisedOp = op;
        }
        _checkMoney(op, s);
        _scan(op, s);
        if (s.paused) {
            // Pause stops every state change of the token except a buyer revoking its
            // signed confirmations (the emergency brake) and the operator's unpause;
            // registry, time and money-supply calls are not the token's.
            if (ok && op <= OP_BUY_BACK && op != OP_REVOKE_NONCE) pausedSuccesses++;
            // What this call acted on and the token's counters are as when the pause began (the
            // invariant compares every receivable and balance; minting is not the token's).
            if (counterHash() != _pausedCounters) pausedChanges++;
            for (uint256 k; k < s.nTouched; ++k) {
                uint256 id = s.touched[k];
                if (receivableHash(id) != pausedHash[id]) pausedChanges++;
            }
        } else if (op == OP_PAUSE && ok) {
            _freeze();
        }
        if (s.paused && op == OP_FUND && ok) pausedGlobal = globalHash();
    }

    /// @dev The pause began: the hash of every receivable and of the token's counters.
    function _freeze() internal {
        for (uint256 id = 1; id <= maxId; ++id) {
            pausedHash[id] = receivableHash(id);
        }
        pausedGlobal = globalHash();
        _pausedCounters = counterHash();
    }

    /// @dev The "before" of a call `caller` is about to make: the next external call is made
    /// as `caller` (so nothing may call out between this and the operation's own call).
    function _begin(address caller, bool money) internal returns (Snap memory s) {
        s = _before(money);
        vm.prank(caller);
    }

    /// @dev {_begin} for a call that acts on the receivable `id`.
    function _begin(address caller, bool money, uint256 id) internal returns (Snap memory s) {
        s = _begin(caller, money);
        _touch(s, id);
    }

    /// @dev {_begin} and the call `f(id)` itself, for the operations that take only a receivable:
    /// whether it succeeded (a refusal is counted, never fatal).
    function _call(function(uint256) external f, uint256 id, address caller, bool money)
        internal
        returns (Snap memory s, bool ok)
    {
        s = _begin(caller, money, id);
        try f(id) {
            ok = true;
        } catch {}
    }

    function _invalid(uint8 op) internal {
        if (invalidAccepted++ == 0) firstInvalidOp = op;
    }

    function _skip(uint8 op) internal {
        skips[op]++;
    }

    /// @dev Whether `id`'s status (as the model knows it) is in `mask`.
    function _in(uint256 id, uint256 mask) internal view returns (bool) {
        return (uint256(1) << _g[id].status) & mask != 0;
    }

    /// @dev a - b, or 0 (chain values the invariants check; the handler must not revert on them).
    function _sub(uint256 a, uint256 b) internal pure returns (uint256) {
        return a >= b ? a - b : 0;
    }

    /// @dev Every balance moved exactly as the model expects (nothing, for a refusal), and
    /// the supply grew only by what was minted.
    function _checkMoney(uint8 op, Snap memory s) internal {
        bool bad = hkd.totalSupply() != ghostMinted;
        if (s.money) {
            uint256[] memory bal = _actorBalances();
            uint256 before;
            uint256 afterwards;
            for (uint256 i; i < N; ++i) {
                before += s.bal[i];
                afterwards += bal[i];
                if (int256(bal[i]) - int256(s.bal[i]) != s.exp[i]) bad = true;
            }
            // Money leaves the participants only if the model sent it elsewhere (it never does).
            if (s.exp[N] != 0 || afterwards != before + s.minted) bad = true;
        }
        if (bad && moneyMismatches++ == 0) firstMoneyOp = op;
    }

    /// @dev Books the status of every receivable this call touched or created, checking each
    /// move against the lifecycle (DESIGN §2 and IInvoiceToken) and the operation's own
    /// powers, and that amounts only move the way the rules allow.
    function _scan(uint8 op, Snap memory s) internal {
        uint256 next = token.nextInvoiceId();
        for (uint256 id = s.firstNewId; id < next; ++id) {
            _touch(s, id);
            if (id > maxId) maxId = id;
        }
        for (uint256 k; k < s.nTouched; ++k) {
            uint256 id = s.touched[k];
            Ghost storage g = _g[id];
            IInvoiceToken.Invoice memory inv = token.getInvoice(id);
            uint8 from = g.status;
            uint8 to = uint8(inv.status);
            if (from != to) {
                if (!allowedTransition(from, to, g.disputedFrom, g.isPart) || !opMayProduce(op, to)) {
                    if (badTransitions++ == 0) {
                        (firstBadOp, firstBadId, firstBadFrom, firstBadTo) = (op, id, from, to);
                    }
                }
                g.disputedFrom = to == DISPUTED ? from : NONE;
                g.status = to;
            }
            if (g.seller != inv.seller || (g.seller != address(0) && g.due != inv.financierDue)) {
                monotonicViolations++;
            }
            // The chain booked exactly what the model says: the buyer's payments (pro rata on a
            // tree), the financier side's share of them (the waterfall), the credit notes.
            if (inv.paid != g.buyerPaid || inv.financierPaid != g.finSide || inv.amount + g.credited != g.face) {
                waterfallMismatches++;
            }
            g.listingExpiry = token.getListing(id).expiry;
            (g.proposed, g.dueDate, g.grace) = (inv.proposedDueDate, inv.dueDate, inv.gracePeriod);
        }
    }

    /// @notice The lifecycle's moves (DESIGN §2, IInvoiceToken.Status): a status may stay, or
    /// move only along these edges. Paid, Cancelled and Split are final.
    function allowedTransition(uint8 from, uint8 to, uint8 disputedFrom, bool isPart) public pure returns (bool) {
        if (from == to) return true;
        if (from == NONE) return isPart ? to == CONFIRMED : to == ISSUED;
        if (from == ISSUED) return to == CONFIRMED || to == CANCELLED;
        // Confirmed: financed, paid in part or full, split, disputed, defaulted, credited to nothing.
        if (from == CONFIRMED) {
            return to == FINANCED || to == PARTIALLY_PAID || to == PAID || to == SPLIT || to == DISPUTED
                || to == DEFAULTED || to == CANCELLED;
        }
        // Financed (possibly after part payments): paid, disputed, defaulted; a full credit note
        // cancels it only when nothing was paid.
        if (from == FINANCED) {
            return to == PARTIALLY_PAID || to == PAID || to == DISPUTED || to == DEFAULTED || to == CANCELLED;
        }
        // Partly paid: financed (still unfinanced), paid, split, disputed, defaulted; something
        // was paid, so a credit note closes it as Paid, never Cancelled.
        if (from == PARTIALLY_PAID) {
            return to == FINANCED || to == PAID || to == SPLIT || to == DISPUTED || to == DEFAULTED;
        }
        // Disputed goes back to exactly where it came from, or a credit note closes it.
        if (from == DISPUTED) return to == disputedFrom || to == PAID || to == CANCELLED;
        if (from == DEFAULTED) return to == WRITTEN_OFF || to == PAID;
        if (from == WRITTEN_OFF) return to == PAID;
        return false;
    }

    /// @notice Which statuses each operation may produce (its own power, not another's).
    function opMayProduce(uint8 op, uint8 to) public pure returns (bool) {
        uint256 m;
        if (op == OP_ISSUE || op == OP_IMPORT) m = uint256(1) << ISSUED;
        else if (op == OP_CONFIRM || op == OP_CONFIRM_BATCH || op == OP_CONFIRM_SIGNED) m = uint256(1) << CONFIRMED;
        else if (op == OP_CANCEL) m = uint256(1) << CANCELLED;
        else if (op == OP_FINANCE) m = uint256(1) << FINANCED;
        else if (op == OP_REPAY || op == OP_REPAY_ROOT) m = (uint256(1) << PARTIALLY_PAID) | (uint256(1) << PAID);
        else if (op == OP_SPLIT) m = (uint256(1) << SPLIT) | (uint256(1) << CONFIRMED);
        else if (op == OP_DISPUTE) m = uint256(1) << DISPUTED;
        else if (op == OP_WITHDRAW_DISPUTE) m = OPEN;
        else if (op == OP_CREDIT_NOTE) m = OPEN | (uint256(1) << PAID) | (uint256(1) << CANCELLED);
        else if (op == OP_DEFAULT) m = uint256(1) << DEFAULTED;
        else if (op == OP_WRITE_OFF) m = uint256(1) << WRITTEN_OFF;
        return (m & (uint256(1) << to)) != 0;
    }

    /// @notice A hash of one receivable as the token holds it: record, holder, approval, listing.
    function receivableHash(uint256 id) public view returns (bytes32) {
        if (id == 0 || id >= token.nextInvoiceId()) return bytes32(0);
        (address holder, address approved) = (address(0), address(0));
        try token.ownerOf(id) returns (address o) {
            holder = o;
            approved = token.getApproved(id);
        } catch {}
        return keccak256(abi.encode(token.getInvoice(id), token.getListing(id), holder, approved));
    }

    /// @notice A hash of the token's counters and settings.
    function counterHash() public view returns (bytes32) {
        return keccak256(abi.encode(token.nextInvoiceId(), token.maxTenor(), token.gracePeriod()));
    }

    /// @notice A hash of the token's counters and settings and of every tracked balance.
    function globalHash() public view returns (bytes32) {
        return keccak256(abi.encode(counterHash(), _balances()));
    }

    /// @notice While paused: whether the whole state is as when the pause began (the first
    /// receivable that differs, or 0 for the counters and balances).
    function pausedStateUnchanged() external view returns (bool, uint256) {
        if (!ghostPaused) return (true, 0);
        if (globalHash() != pausedGlobal) return (false, 0);
        for (uint256 id = 1; id <= maxId; ++id) {
            if (receivableHash(id) != pausedHash[id]) return (false, id);
        }
        return (true, 0);
    }

    function _actorBalances() internal view returns (uint256[] memory bal) {
        bal = new uint256[](N);
        for (uint256 i; i < N; ++i) {
            bal[i] = hkd.balanceOf(actors[i]);
        }
    }

    function _balances() internal view returns (uint256[] memory bal) {
        bal = new uint256[](_holders.length);
        for (uint256 i; i < bal.length; ++i) {
            bal[i] = hkd.balanceOf(_holders[i]);
        }
    }

    /// @dev The model expects `amount` to move from `from` to `to` (nothing if the same).
    function _pay(Snap memory s, address from, address to, uint256 amount) internal view {
        if (amount == 0 || from == to) return;
        s.exp[_idx(from)] -= int256(amount);
        s.exp[_idx(to)] += int256(amount);
    }

    function _move(Ghost storage g, address to) internal {
        g.owner = to;
        g.approved = address(0);
    }

    function _touch(Snap memory s, uint256 id) internal pure {
        for (uint256 k; k < s.nTouched; ++k) {
            if (s.touched[k] == id) return;
        }
        if (s.nTouched < s.touched.length) s.touched[s.nTouched++] = id;
    }

    function _kill(address buyer, uint256 nonce) internal {
        _nonceGone[buyer][nonce] = true;
        _deadNonce[buyer] = nonce;
    }

    function _newRoot(uint256 id, address supplier, address buyer, uint256 amount, uint256 n) internal {
        Ghost storage g = _g[id];
        (g.owner, g.supplier, g.buyer) = (supplier, supplier, buyer);
        (g.face, g.number, g.root) = (amount, n, id);
        _lastNumber[supplier] = n;
    }

    function _newPart(uint256 id, uint256 parentId, IInvoiceToken.Part memory part) internal {
        Ghost storage parent = _g[parentId];
        Ghost storage g = _g[id];
        (g.isPart, g.owner, g.face) = (true, part.holder, part.amount);
        (g.supplier, g.buyer) = (parent.supplier, parent.buyer);
        (g.root, g.parent) = (parent.root, parentId);
        _partsOf[parent.root].push(id);
    }

    // =====================================================================
    // Choosing
    // =====================================================================

    function _rand(uint256 seed, uint256 salt) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, salt)));
    }

    /// @dev An operation's argument as it uses it: hashed (see Intake above), or as given in setUp.
    function _mix(uint256 seed, uint256 salt) internal view returns (uint256) {
        return _verbatim ? seed : _rand(seed, salt);
    }

    /// @dev The party entitled to act, except one call in six: another actor (any, if there is
    /// no such party).
    function _who(uint256 seed, address right) internal view returns (address) {
        uint256 r = _rand(seed, 0x77);
        if (right != address(0) && r % 6 != 0) return right;
        address other = actors[(r >> 8) % N];
        return other == right ? actors[((r >> 8) + 1) % N] : other;
    }

    /// @dev A buyer other than the supplier itself.
    function _buyerFor(address supplier, uint256 r) internal view returns (address buyer) {
        buyer = actors[BUYERS[r % 3]];
        if (buyer == supplier) buyer = actors[BUYERS[(r + 1) % 3]];
    }

    /// @dev Mostly 1.00 to 10,000,000.00 HKD; one in eight under a dollar (rounding);
    /// one in thirty-two zero (refused).
    function _amount(uint256 r) internal pure returns (uint256 amount, bool bad) {
        if (r % 32 == 0) return (0, true);
        if (r % 8 == 1) return (1 + (r >> 8) % 99, false);
        return (100 + (r >> 8) % 1e9, false);
    }

    /// @dev A day to four months out; one in sixteen now or past the longest tenor (refused).
    function _dueDate(uint256 r) internal view returns (uint64 due, bool bad) {
        if (r % 16 == 0) {
            return ((r >> 8) % 2 == 0 ? uint64(block.timestamp) : uint64(block.timestamp + ghostMaxTenor + 1), true);
        }
        return (uint64(block.timestamp + 1 days + (r >> 8) % 120 days), false);
    }

    /// @dev A fresh invoice number, or (one in sixteen) one this supplier used before, spelt
    /// another way: the contract must refuse it as the same invoice.
    function _number(address supplier, uint256 flags) internal returns (string memory, uint256, bool) {
        uint256 last = _lastNumber[supplier];
        if (flags % 16 == 2 && last != 0) return (_spell(last, 1 + (flags >> 4) % 2), last, true);
        uint256 n = ++_numberCounter;
        return (_spell(n, 0), n, false);
    }

    /// @dev INV-n, and spellings that normalise the same: "inv 000n", "Inv/0n".
    function _spell(uint256 n, uint256 how) internal pure returns (string memory) {
        if (how == 1) return string.concat("inv 000", decimal(n));
        if (how == 2) return string.concat("Inv/0", decimal(n));
        return string.concat("INV-", decimal(n));
    }

    function _sign(uint256 key, IInvoiceToken.SignedConfirmation memory c) internal view returns (bytes memory) {
        bytes32 structHash = keccak256(
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
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, keccak256(abi.encodePacked("\x19\x01", _domain(), structHash)));
        return abi.encodePacked(r, s, v);
    }

    function _domain() internal view returns (bytes32) {
        return DOMAIN_SEPARATOR;
    }

    /// @dev A receivable whose status is in `mask`, scanning from a random start; one time in
    /// eight one whose status is not (if there is one), so the contracts' status guards are
    /// probed too: a call on a receivable in the wrong status must be refused.
    function _pick(uint256 seed, uint256 mask) internal view returns (uint256) {
        if (_rand(seed, 0x5a) % 8 == 0) {
            uint256 wrong = _scanFor(seed, ANY & ~mask);
            if (wrong != 0) return wrong;
        }
        return _scanFor(seed, mask);
    }

    /// @dev The first receivable from a random start (going round) whose status is in `mask`
    /// and that `also` accepts; 0 if none.
    function _scanFor(uint256 seed, uint256 mask, function(uint256) internal view returns (bool) also)
        internal
        view
        returns (uint256)
    {
        uint256 n = maxId;
        uint256 start = n == 0 ? 0 : seed % n;
        for (uint256 k; k < n; ++k) {
            uint256 id = (start + k) % n + 1;
            if (_in(id, mask) && also(id)) return id;
        }
        return 0;
    }

    function _scanFor(uint256 seed, uint256 mask) internal view returns (uint256) {
        return _scanFor(seed, mask, _anyOf);
    }

    function _pickUnfinanced(uint256 seed, uint256 mask) internal view returns (uint256) {
        if (_rand(seed, 0x5a) % 8 == 0) return _scanFor(seed, ANY & ~mask);
        return _scanFor(seed, mask, _unfinanced);
    }

    function _pickFinanced(uint256 seed) internal view returns (uint256) {
        return _scanFor(seed, FINANCEABLE, _financedHeld);
    }

    function _pickSplittable(uint256 seed) internal view returns (uint256) {
        if (_rand(seed, 0x5a) % 8 == 0) return 0;
        return _scanFor(seed, FINANCEABLE, _unfinancedNotDue);
    }

    function _pickRecourse(uint256 seed) internal view returns (uint256) {
        return _scanFor(seed, uint256(1) << DEFAULTED, _withRecourse);
    }

    function _pickOwned(uint256 seed) internal view returns (uint256) {
        return _scanFor(seed, ALL, _held);
    }

    /// @dev A receivable with a listing (`live`: one that has not lapsed, and financeable).
    function _pickListed(uint256 seed, bool live) internal view returns (uint256) {
        return live ? _scanFor(seed, FINANCEABLE, _listedLive) : _scanFor(seed, ALL, _listed);
    }

    function _pickProposed(uint256 seed) internal view returns (uint256) {
        return _scanFor(seed, OPEN, _proposed);
    }

    /// @dev An open receivable past its due date and grace period (else, one time in four, any
    /// open one: refused).
    function _pickOverdue(uint256 seed) internal view returns (uint256) {
        uint256 id = _scanFor(seed, OPEN, _overdue);
        if (id != 0) return id;
        return seed % 4 == 0 ? _pick(seed, OPEN) : 0;
    }

    // What the pickers ask of a receivable besides its status.

    function _anyOf(uint256) internal pure returns (bool) {
        return true;
    }

    function _unfinanced(uint256 id) internal view returns (bool) {
        return _g[id].financeCount == 0;
    }

    function _financedHeld(uint256 id) internal view returns (bool) {
        return _g[id].financeCount != 0 && _g[id].owner != address(0);
    }

    function _unfinancedNotDue(uint256 id) internal view returns (bool) {
        return _g[id].financeCount == 0 && _g[id].dueDate > block.timestamp;
    }

    function _withRecourse(uint256 id) internal view returns (bool) {
        return _g[id].recourse;
    }

    function _held(uint256 id) internal view returns (bool) {
        return _g[id].owner != address(0);
    }

    function _listed(uint256 id) internal view returns (bool) {
        return _g[id].listingExpiry != 0 && _g[id].owner != address(0);
    }

    function _listedLive(uint256 id) internal view returns (bool) {
        return _listed(id) && _g[id].listingExpiry >= block.timestamp;
    }

    function _proposed(uint256 id) internal view returns (bool) {
        return _g[id].proposed != 0;
    }

    function _overdue(uint256 id) internal view returns (bool) {
        return block.timestamp > uint256(_g[id].dueDate) + _g[id].grace;
    }

    /// @dev Whether `id` is `ancestor` or lies below it.
    function _descends(uint256 id, uint256 ancestor) internal view returns (bool) {
        while (id != ancestor) {
            id = _g[id].parent;
            if (id == 0) return false;
        }
        return true;
    }

    /// @dev What the model says is open on `id`: its amount (face less credit notes) less payments.
    function _open(uint256 id) internal view returns (uint256) {
        Ghost storage g = _g[id];
        return _sub(_sub(g.face, g.credited), g.buyerPaid);
    }

    function _isOpen(uint8 status) internal pure returns (bool) {
        return (uint256(1) << status) & OPEN != 0;
    }

    /// @dev Index of `a` among the actors; N for anyone else.
    function _idx(address a) internal view returns (uint256) {
        for (uint256 i; i < N; ++i) {
            if (actors[i] == a) return i;
        }
        return N;
    }

    /// @dev Whether the model says `a` may act in `role` now (the registry's rule:
    /// admitted, not suspended, KYC valid strictly before its expiry, holding the role).
    function _active(address a, uint8 role) internal view returns (bool) {
        for (uint256 i; i < N; ++i) {
            if (actors[i] == a) {
                return admitted[i] && !suspended[i] && block.timestamp < kyc[i] && (roles[i] & role) == role;
            }
        }
        return false;
    }

    // =====================================================================
    // Views for the invariants
    // =====================================================================

    function ghost(uint256 id) external view returns (Ghost memory) {
        return _g[id];
    }

    function holders() external view returns (address[] memory) {
        return _holders;
    }

    function actorList() external view returns (address[] memory list) {
        list = new address[](N);
        for (uint256 i; i < N; ++i) {
            list[i] = actors[i];
        }
    }

    /// @notice The invoice number an issued receivable was registered under.
    function numberOf(uint256 id) external view returns (string memory) {
        return _spell(_g[id].number, 0);
    }

    /// @notice The handler's functions the invariant runner calls.
    function selectors() external pure returns (bytes4[] memory s) {
        s = new bytes4[](31);
        s[0] = this.issue.selector;
        s[1] = this.importBatch.selector;
        s[2] = this.confirm.selector;
        s[3] = this.confirmBatch.selector;
        s[4] = this.confirmSigned.selector;
        s[5] = this.revokeNonce.selector;
        s[6] = this.cancel.selector;
        s[7] = this.offer.selector;
        s[8] = this.withdrawOffer.selector;
        s[9] = this.finance.selector;
        s[10] = this.repay.selector;
        s[11] = this.repayRoot.selector;
        s[12] = this.split.selector;
        s[13] = this.transfer.selector;
        s[14] = this.approve.selector;
        s[15] = this.transferFrom.selector;
        s[16] = this.dispute.selector;
        s[17] = this.withdrawDispute.selector;
        s[18] = this.creditNote.selector;
        s[19] = this.proposeExtension.selector;
        s[20] = this.acceptExtension.selector;
        s[21] = this.declareDefault.selector;
        s[22] = this.writeOff.selector;
        s[23] = this.buyBack.selector;
        s[24] = this.pause.selector;
        s[25] = this.unpause.selector;
        s[26] = this.warp.selector;
        s[27] = this.setParticipant.selector;
        s[28] = this.suspend.selector;
        s[29] = this.fund.selector;
        s[30] = this.attack.selector;
    }
}
