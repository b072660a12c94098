// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm, VM_ADDRESS, FuzzSelector, console} from "./utils/Vm.sol";
import {decimal} from "./utils/Decimal.sol";
import {SystemHandler} from "./handlers/SystemHandler.sol";
import {IInvoiceToken} from "../../contracts/interfaces/IInvoiceToken.sol";
import {ISystemToken, IRegistryAdmin, ISettlementToken} from "./utils/Interfaces.sol";

/// @title Invariants of the whole contract system under random operation
/// @notice Deployed as `scf deploy` does (ledger/evm/deploy.py): the participant registry,
/// the invoice token linked to its libraries (forge links them), a 2-decimal HKD
/// settlement token accepted as currency; participants admitted with roles and KYC
/// expiries and funded. forge's invariant runner then calls {SystemHandler} at random,
/// one campaign per invariant below, asserting it every `check_interval` calls and at the
/// end of each run (the handler books and checks every call as it makes it). A failure's
/// reason names what broke; forge prints the call sequence.
contract SystemInvariantsTest {
    Vm internal constant vm = Vm(VM_ADDRESS);

    /// @dev 2027-01-15, so due dates, KYC expiries and tenors look like real ones.
    uint256 internal constant START = 1_800_000_000;
    /// @dev 100,000,000,000.00 HKD each: no call is refused for want of money.
    uint256 internal constant FUNDS = 1e13;
    uint8 internal constant SPLIT = uint8(IInvoiceToken.Status.Split);

    SystemHandler internal handler;
    ISystemToken internal token;
    IRegistryAdmin internal registry;
    ISettlementToken internal hkd;
    ISettlementToken internal usd;
    address internal operator;
    address internal admin;
    address internal minter;

    function setUp() public {
        vm.warp(START);
        operator = vm.addr(0x0be7a7);
        admin = vm.addr(0xad3117);
        minter = vm.addr(0x3171e7);
        // As deploy.py, from the artifacts: the registry, the token (forge links its libraries
        // InvoiceNumbers, Settlement, Remedies, Intake), the currency; the settings' defaults:
        // a one-day admin delay, a 3,653-day longest tenor, a 7-day grace period.
        registry = IRegistryAdmin(
            vm.deployCode("contracts/ParticipantRegistry.sol:ParticipantRegistry", abi.encode(admin, operator, 1 days))
        );
        token = ISystemToken(
            vm.deployCode(
                "contracts/InvoiceToken.sol:InvoiceToken",
                abi.encode(registry, admin, operator, admin, 1 days, uint64(3653 days), uint32(7 days))
            )
        );
        // The deployed code must fit EIP-170 (the test profile lifts the limit for the handler).
        require(address(token).code.length <= 24_576, "InvoiceToken exceeds the EIP-170 code size limit");
        hkd = _settlementToken();
        usd = _token("US Dollar (test)", "USD");
        vm.prank(admin);
        token.setCurrencyAccepted(address(hkd), true);

        // S1, S2 suppliers; B1, B2 buyers; F1, F2 financiers; T1, T2 tier-2 suppliers paid
        // with parts; X supplier and buyer at once; A an auditor; O an outsider (never admitted).
        string[11] memory names = [
            "Kowloon Precision Parts Ltd",
            "Sham Shui Po Textiles Ltd",
            "Tsuen Wan Electronics Ltd",
            "Kwai Chung Logistics Ltd",
            "Harbour Trade Finance Ltd",
            "Victoria Peak Capital Ltd",
            "Mong Kok Components Ltd",
            "Yau Tong Packaging Ltd",
            "Lantau Trading Ltd",
            "Central Audit Partners",
            "Outsider"
        ];
        uint8[11] memory roles = [1, 1, 2, 2, 4, 4, 1, 1, 3, 8, 1];
        uint256[11] memory keys;
        uint64[11] memory kyc;
        uint256 minted;
        for (uint256 i; i < 11; ++i) {
            // Below the secp256k1 order, never zero.
            keys[i] = (uint256(keccak256(abi.encode("scf.actor", i))) >> 2) + 1;
            address a = vm.addr(keys[i]);
            vm.label(a, names[i]);
            kyc[i] = uint64(START + 200 days + i * 20 days);
            if (i != 10) {
                vm.prank(operator);
                registry.admit(a, names[i], roles[i], kyc[i]);
            }
            vm.prank(minter);
            hkd.mint(a, FUNDS);
            minted += FUNDS;
            vm.prank(a);
            hkd.approve(address(token), type(uint256).max);
        }
        address[] memory contracts = new address[](2);
        contracts[0] = address(usd);
        contracts[1] = address(this);
        handler = new SystemHandler(
            token, registry, hkd, usd, [operator, admin, minter], keys, roles, kyc, contracts, minted
        );
        _portfolio();
    }

    /// @dev Every run starts from a book already in motion (issued, confirmed, listed,
    /// financed, split, part-paid receivables), made through the handler's own operations
    /// so it is booked like the rest: a run's random calls then reach every rule from its
    /// first call instead of spending its depth on building one. forge snapshots the state
    /// after setUp, so this costs once per campaign.
    function _portfolio() internal {
        // Flags ending in 5 (mod 16) ask for valid inputs; the party is still random one time in six.
        handler.verbatim(true);
        for (uint256 i; i < 24; ++i) {
            handler.issue(i, i + 1, i + 2, i + 3, 16 * i + 5);
        }
        for (uint256 i; i < 16; ++i) {
            handler.confirm(i, i);
        }
        for (uint256 i; i < 4; ++i) {
            handler.confirmSigned(i, 1 + 8 * i, i, 16 * i + 5);
        }
        for (uint256 i; i < 12; ++i) {
            handler.offer(i, i, i, 16 * i + 5, 8 * i + 1);
        }
        for (uint256 i; i < 6; ++i) {
            handler.finance(i, i, i, 16 * i + 5);
        }
        for (uint256 i; i < 3; ++i) {
            handler.split(i, i, 8 * i + 2, 16 * i + 5);
        }
        for (uint256 i; i < 4; ++i) {
            handler.repay(i, i, 4 * i + 2);
        }
        handler.verbatim(false);
    }

    /// @dev The HKD settlement token, as deploy.py's SETTLEMENT_TOKENS (2 decimals); a
    /// mutant test overrides it to prove the conservation invariant can fail.
    function _settlementToken() internal virtual returns (ISettlementToken) {
        return _token("Hong Kong Dollar (test)", "HKD");
    }

    function _token(string memory name, string memory symbol) internal returns (ISettlementToken) {
        return ISettlementToken(
            vm.deployCode("contracts/SettlementToken.sol:SettlementToken", abi.encode(name, symbol, 2, admin, minter))
        );
    }

    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory t) {
        t = new FuzzSelector[](1);
        t[0] = FuzzSelector(address(handler), handler.selectors());
    }

    // =====================================================================
    // 1. Money is neither created nor lost
    // =====================================================================

    /// @notice The settlement token's balances over every holder (actors, role holders and
    /// contracts) equal what was minted, to the minor unit, and so does the supply; the
    /// contracts hold none (the ledger never keeps money: every payment goes from payer to
    /// payee, so what it holds is 0); every money call (finance, repayments, credit notes,
    /// buy-backs, minting) moved exactly what the handler's model of its terms says, each
    /// participant's balance to the unit (nothing, if refused).
    function invariant_settlement_token_balances_conserved() public view {
        address[] memory h = handler.holders();
        uint256 sum;
        for (uint256 i; i < h.length; ++i) {
            sum += hkd.balanceOf(h[i]);
        }
        uint256 minted = handler.ghostMinted();
        require(hkd.totalSupply() == minted, _msg("conservation: total supply != minted, supply", hkd.totalSupply()));
        require(sum == minted, _msg("conservation: the holders' balances do not add up to what was minted, sum", sum));
        require(hkd.balanceOf(address(token)) == 0, "conservation: the invoice token holds settlement money");
        require(hkd.balanceOf(address(registry)) == 0, "conservation: the registry holds settlement money");
        require(hkd.balanceOf(address(handler)) == 0, "conservation: the handler holds settlement money");
        require(
            handler.moneyMismatches() == 0,
            _msg("conservation: a call moved money other than its terms say; first in op", handler.firstMoneyOp())
        );
    }

    // =====================================================================
    // 2. One receivable, one financing
    // =====================================================================

    /// @notice No receivable was financed twice (the handler's count of successful
    /// finance calls), the chain's record agrees (a seller is recorded exactly when it was
    /// financed once), no split receivable was financed, and an invoice's identity
    /// (supplier, normalised number) maps to it alone: a duplicate was never accepted.
    function invariant_each_receivable_financed_at_most_once() public view {
        uint256 n = handler.maxId();
        for (uint256 id = 1; id <= n; ++id) {
            SystemHandler.Ghost memory g = handler.ghost(id);
            IInvoiceToken.Invoice memory inv = token.getInvoice(id);
            require(g.financeCount <= 1, _msg("financed twice: receivable", id));
            require(
                (inv.seller != address(0)) == (g.financeCount == 1),
                _msg("financing: the chain's seller disagrees with the financings made, receivable", id)
            );
            require(uint8(inv.status) != SPLIT || inv.seller == address(0), _msg("a financed receivable was split", id));
            if (!g.isPart) {
                require(
                    token.invoiceIdOf(g.supplier, handler.numberOf(id)) == id,
                    _msg("identity: the supplier's invoice number does not map to receivable", id)
                );
            }
        }
        require(handler.identityViolations() == 0, "identity: a duplicate invoice number was accepted");
    }

    // =====================================================================
    // 3. The lifecycle
    // =====================================================================

    /// @notice Every status change seen after a call is an edge of the lifecycle
    /// (SystemHandler.allowedTransition: DESIGN §2 and IInvoiceToken.Status) that the
    /// call's operation may make (SystemHandler.opMayProduce); no status changed on a
    /// receivable the call did not touch; no receivable appeared outside a booked call.
    function invariant_statuses_move_only_along_allowed_transitions() public view {
        if (handler.badTransitions() != 0) {
            revert(
                string.concat(
                    "transition not allowed: op ",
                    decimal(handler.firstBadOp()),
                    " moved receivable ",
                    decimal(handler.firstBadId()),
                    " from status ",
                    decimal(handler.firstBadFrom()),
                    " to ",
                    decimal(handler.firstBadTo())
                )
            );
        }
        uint256 n = handler.maxId();
        require(token.nextInvoiceId() == n + 1, "a receivable was created outside the calls booked");
        for (uint256 id = 1; id <= n; ++id) {
            require(
                uint8(token.getInvoice(id).status) == handler.ghost(id).status,
                _msg("a status changed without a call on the receivable", id)
            );
        }
    }

    // =====================================================================
    // 4. Multi-tier trees
    // =====================================================================

    /// @notice A split tree adds up: each split node's parts sum to its open amount when it
    /// was split (its amount less its payments, both frozen by the split), so the root's
    /// amount = its payments before the split + over its parts, the part's credit notes and
    /// either its payments before its own split (a split part) or its amount (a leaf).
    /// Parts keep the root's supplier, buyer and currency, sit at depth 1..3 under their
    /// root, and a tree holds at most 64 parts.
    function invariant_split_tree_leaves_sum_to_root() public view {
        uint256 n = handler.maxId();
        for (uint256 id = 1; id <= n; ++id) {
            if (handler.ghost(id).isPart) continue;
            IInvoiceToken.Invoice memory root = token.getInvoice(id);
            uint256[] memory parts = token.partsOf(id);
            if (uint8(root.status) != SPLIT) {
                require(parts.length == 0, _msg("tree: an unsplit receivable has parts", id));
                continue;
            }
            require(parts.length <= 64, _msg("tree: more than 64 parts under root", id));
            uint256 total = root.paid;
            for (uint256 i; i < parts.length; ++i) {
                IInvoiceToken.Invoice memory p = token.getInvoice(parts[i]);
                IInvoiceToken.Lineage memory l = token.getLineage(parts[i]);
                require(l.root == id && l.depth >= 1 && l.depth <= 3, _msg("tree: a part's lineage is wrong", parts[i]));
                require(
                    p.supplier == root.supplier && p.buyer == root.buyer && p.currency == root.currency,
                    _msg("tree: a part lost its root's supplier, buyer or currency", parts[i])
                );
                total += handler.ghost(parts[i]).credited + (uint8(p.status) == SPLIT ? p.paid : p.amount);
                if (uint8(p.status) == SPLIT) _checkNode(parts[i], parts);
            }
            _checkNode(id, parts);
            require(total == root.amount, _msg("tree: the leaves do not sum to the root's amount, root", id));
        }
    }

    /// @dev The parts made by splitting `node` sum to its open amount (and are 2..10).
    function _checkNode(uint256 node, uint256[] memory parts) internal view {
        IInvoiceToken.Invoice memory inv = token.getInvoice(node);
        uint256 sum;
        uint256 count;
        for (uint256 i; i < parts.length; ++i) {
            if (token.getLineage(parts[i]).parent != node) continue;
            sum += token.getInvoice(parts[i]).amount + handler.ghost(parts[i]).credited;
            ++count;
        }
        require(count >= 2 && count <= 10, _msg("tree: a split made fewer than 2 or more than 10 parts, node", node));
        require(sum == inv.amount - inv.paid, _msg("tree: parts do not sum to their parent's open amount, node", node));
    }

    // =====================================================================
    // 5. No one is paid more than their due
    // =====================================================================

    /// @notice Per receivable: the buyer never paid more than the amount (and the chain's
    /// payments are exactly the buyer's booked ones); the amount changed only by credit
    /// notes; the financier side received (repayments, dilution, buy-back; measured in
    /// balances by the handler) exactly what the chain says and never more than the due
    /// it financed; the advance never exceeded the due; every booking followed the
    /// waterfall and the documented pro-rata rule; the seller and due never changed once
    /// financed; a receivable is Paid exactly when nothing is open.
    function invariant_no_one_paid_more_than_due() public view {
        require(handler.waterfallMismatches() == 0, "payments: a booking differs from the waterfall or pro-rata rule");
        require(handler.monotonicViolations() == 0, "payments: a seller or a due changed after financing");
        uint256 n = handler.maxId();
        for (uint256 id = 1; id <= n; ++id) {
            SystemHandler.Ghost memory g = handler.ghost(id);
            IInvoiceToken.Invoice memory inv = token.getInvoice(id);
            require(inv.paid <= inv.amount, _msg("payments: paid more than the amount of receivable", id));
            // Paid exactly when nothing is open; cancelled only with nothing paid.
            if (inv.status == IInvoiceToken.Status.Paid) {
                require(inv.paid == inv.amount, _msg("payments: Paid with something still open, receivable", id));
            } else if (inv.status == IInvoiceToken.Status.Cancelled) {
                require(inv.paid == 0, _msg("payments: Cancelled after a payment, receivable", id));
            } else {
                require(inv.paid < inv.amount, _msg("payments: nothing open but not Paid, receivable", id));
            }
            require(inv.amount + g.credited == g.face, _msg("payments: amount changed other than by credit notes", id));
            require(inv.paid == g.buyerPaid, _msg("payments: the chain's paid differs from the buyer's payments", id));
            require(inv.financierPaid <= inv.financierDue, _msg("payments: financier paid more than its due", id));
            require(g.finSide == inv.financierPaid, _msg("payments: financier side received != chain's record", id));
            require(g.finSide <= g.due, _msg("payments: financier side received more than its due", id));
            require(g.advance <= g.due, _msg("payments: advance above the financier's due", id));
            require(inv.financierDue == g.due, _msg("payments: the financier's due differs from its terms", id));
        }
    }

    // =====================================================================
    // 6. Only authorised roles change anything
    // =====================================================================

    /// @notice No call succeeded that the handler's model forbids (wrong party, lapsed KYC,
    /// suspended, missing registry role, no protocol role: the handler makes such calls on
    /// purpose), nor one with bad input; every receivable is held by whom the model says
    /// (nothing moved without its holder's, approved spender's or financier's call); the
    /// protocol roles, the registry's records and the settings are as set up or changed
    /// by the operator.
    function invariant_only_authorised_roles_change_anything() public view {
        require(
            handler.unauthorised() == 0,
            _msg(
                "authority: a call the caller had no right to make succeeded; first in op",
                handler.firstUnauthorisedOp()
            )
        );
        require(
            handler.invalidAccepted() == 0,
            _msg("authority: a call with bad input succeeded; first in op", handler.firstInvalidOp())
        );
        uint256 n = handler.maxId();
        for (uint256 id = 1; id <= n; ++id) {
            address holder;
            try token.ownerOf(id) returns (address o) {
                holder = o;
            } catch {}
            require(
                holder == handler.ghost(id).owner, _msg("authority: a receivable is not held by whom it should be", id)
            );
        }
        address[] memory who = handler.holders();
        (bytes32 op, bytes32 manager, bytes32 mint) =
            (token.OPERATOR_ROLE(), token.CURRENCY_MANAGER_ROLE(), hkd.MINTER_ROLE());
        for (uint256 i; i < who.length; ++i) {
            address a = who[i];
            require(token.hasRole(op, a) == (a == operator), _msg("authority: token operator role moved, holder", i));
            require(token.hasRole(bytes32(0), a) == (a == admin), _msg("authority: token admin role moved, holder", i));
            require(
                token.hasRole(manager, a) == (a == admin), _msg("authority: currency manager role moved, holder", i)
            );
            require(registry.hasRole(op, a) == (a == operator), _msg("authority: registry operator moved, holder", i));
            require(registry.hasRole(bytes32(0), a) == (a == admin), _msg("authority: registry admin moved, holder", i));
            require(hkd.hasRole(mint, a) == (a == minter), _msg("authority: minter role moved, holder", i));
        }
        for (uint256 i; i < handler.N(); ++i) {
            (, uint8 r, uint64 k, bool ad, bool su) = registry.participant(handler.actors(i));
            require(
                r == (ad ? handler.roles(i) : 0) && k == (ad ? handler.kyc(i) : 0) && ad == handler.admitted(i)
                    && su == handler.suspended(i),
                _msg("authority: a participant's record changed without the operator, actor", i)
            );
        }
        require(!token.currencyAccepted(address(usd)), "authority: a currency was accepted without the manager");
        require(token.maxTenor() == handler.ghostMaxTenor(), "authority: the longest tenor changed");
        require(token.gracePeriod() == handler.ghostGrace(), "authority: the grace period changed");
    }

    // =====================================================================
    // 7. Pause stops everything
    // =====================================================================

    /// @notice While paused no state-changing call of the token succeeded (only a buyer's
    /// revocation of its signed confirmations and the operator's unpause may); each call
    /// made while paused left what it acted on and the token's counters and balances as
    /// they were; and the whole state (every receivable's record, holder, approval and
    /// listing; counters, settings, balances) is as when the pause began. The paused flag
    /// moves only by the operator's calls.
    function invariant_nothing_changes_while_paused() public view {
        require(token.paused() == handler.ghostPaused(), "pause: the paused flag changed without the operator");
        require(handler.pausedSuccesses() == 0, "pause: a state-changing call succeeded while paused");
        require(handler.pausedChanges() == 0, "pause: the state changed across a call made while paused");
        (bool same, uint256 id) = handler.pausedStateUnchanged();
        require(same, _msg("pause: the state differs from when the pause began; receivable (0: counters)", id));
    }

    /// @notice The last run's coverage, one line per operation (shown with -vv and in --json).
    function afterInvariant() public view {
        string[32] memory ops = [
            "",
            "issue",
            "import",
            "confirm",
            "confirm-batch",
            "confirm-signed",
            "revoke-nonce",
            "cancel",
            "offer",
            "withdraw-offer",
            "finance",
            "repay",
            "repay-root",
            "split",
            "transfer",
            "approve",
            "transfer-from",
            "dispute",
            "withdraw-dispute",
            "credit-note",
            "propose-extension",
            "accept-extension",
            "default",
            "write-off",
            "buy-back",
            "pause",
            "unpause",
            "warp",
            "set-participant",
            "suspend",
            "fund",
            "attack"
        ];
        for (uint256 op = 1; op < 32; ++op) {
            console.log(
                string.concat(
                    "op ",
                    ops[op],
                    ": ",
                    decimal(handler.successes(op)),
                    " ok, ",
                    decimal(handler.refusals(op)),
                    " refused, ",
                    decimal(handler.skips(op)),
                    " skipped; receivables"
                ),
                handler.maxId()
            );
        }
    }

    function _msg(string memory what, uint256 value) internal pure returns (string memory) {
        return string.concat(what, " ", decimal(value));
    }
}
