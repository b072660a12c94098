#!/usr/bin/env bash
# The whole lifecycle on a fresh local chain: set up what is missing, start
# Anvil, deploy, admit four Hong Kong companies, issue, confirm, finance and
# repay invoices, show the rules that refuse double financing and duplicate
# invoices, index the chain, print the ledger, take financing decisions, split
# a confirmed invoice to pay a tier-2 supplier who gets its part financed,
# repay the invoice across its parts, resolve a dispute by a credit note,
# declare defaults after the grace period (one written off and partly
# recovered late, one bought back by the seller under recourse), and print
# the reports.
# Data goes to .scf-demo/ (wiped at the start); the chain is stopped at the end
# with its state saved; the last line says how to bring it back in a new shell.
# Each command is echoed exactly as it runs (quoted for the shell), so it can
# be pasted after the `export` line printed at the start.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
./scripts/setup.sh
export PATH="$ROOT/.venv/bin:$PATH"
export SCF_HOME="$ROOT/.scf-demo"
unset SCF_RPC_URL SCF_DB_URL

# SCF_ENGINE=clique runs it all on a Clique proof-of-authority network of
# @ethereumjs/client (a block every ~2 s; each change is indexed once it has
# one confirmation) instead of Anvil; the part that moves the chain's clock
# forward (defaults after the grace period) runs on Anvil only.
ENGINE="${SCF_ENGINE:-anvil}"
case "$ENGINE" in
    anvil) OPERATOR=operator SUPPLIER=supplier BUYER=buyer FINANCIER=financier SUPPLIER2=supplier2 ;;
    clique)
        OPERATOR=ops SUPPLIER=kowloon BUYER=tsuenwan FINANCIER=harbour SUPPLIER2=shamshuipo
        export SCF_PASSWORD="${SCF_PASSWORD:-demo-only-password}" SCF_SYNC=1 SCF_CONFIRMATIONS=1 ;;
    *) echo "demo: SCF_ENGINE must be anvil or clique, not $ENGINE" >&2; exit 2 ;;
esac
export SCF_ENGINE="$ENGINE"

# A previous demo's chain is stopped by its recorded PID before the wipe.
if [[ -d "$SCF_HOME" ]]; then scf node stop >/dev/null || true; rm -rf "$SCF_HOME"; fi
SCF_NODE_PORT="${SCF_NODE_PORT:-$(python -c 'from ledger.evm.node import free_port; print(free_port())')}"
export SCF_NODE_PORT
trap 'scf node stop >/dev/null 2>&1 || true' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# One shell word, quoted only when it must be ('Tsuen Wan Electronics Ltd').
quote() { if [[ "$1" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then printf '%s' "$1"; else printf '%s' "${1@Q}"; fi; }
# The command line exactly as it runs, after "$ ".
shown() { printf '$'; for arg in "$@"; do printf ' %s' "$(quote "$arg")"; done; printf '\n'; }
run() { shown scf "$@"; scf "$@"; }
refused() {
    # A command that must be refused: show its one-line error, fail if it passed.
    shown scf "$@"
    if out="$(scf "$@" 2>&1)"; then echo "demo: expected a refusal but the command succeeded" >&2; exit 1; fi
    printf '   refused (as it must be): %s\n' "${out#Error: }"
}
# Issue an invoice (its command shown as it runs, with --json) and print only its id.
issued_id() {
    shown scf "$@" >&2
    scf "$@" | python -c 'import json,sys; print(json.load(sys.stdin)["invoice_id"])'
}
# Split a receivable (shown as it runs, with --json): its parts on stderr, their ids on stdout.
part_ids() {
    shown scf "$@" >&2
    scf "$@" | python -c 'import json,sys
from decimal import Decimal
d = json.load(sys.stdin)
print("invoice %s split into %s parts:" % (d["invoice_id"], len(d["parts"])), file=sys.stderr)
for p in d["parts"]:
    amount = "%s %s" % (d["currency"], format(Decimal(p["amount"]), ","))
    print("  part %s: %s to %s" % (p["invoice_id"], amount, p["holder"]["name"]), file=sys.stderr)
print(" ".join(str(p["invoice_id"]) for p in d["parts"]))'
}
# Quote (shown as it runs, with --json): the decision's verdict on stderr, its id on stdout.
decision_id() {
    shown scf "$@" >&2
    scf "$@" | python -c 'import json,sys
d = json.load(sys.stdin)
print("decision %s: %s (%s)" % (d["decision_id"], d["status"], d["reason"]), file=sys.stderr)
print(d["decision_id"])'
}
# Dates are business dates in Hong Kong (the default time zone): N days from today there.
day() { TZ=Asia/Hong_Kong date -d "+$1 days" +%F; }

DUE1="$(day 60)"; DUE2="$(day 90)"; DUE3="$(day 45)"
echo "# To repeat a command below in your own shell, first run:"
shown cd "$ROOT"
printf '$ source .venv/bin/activate && export SCF_HOME=%s SCF_NODE_PORT=%s' "$(quote "$SCF_HOME")" "$SCF_NODE_PORT"
if [[ "$ENGINE" == clique ]]; then
    printf ' SCF_ENGINE=clique SCF_PASSWORD=%s SCF_SYNC=1 SCF_CONFIRMATIONS=1' "$(quote "$SCF_PASSWORD")"
fi
printf '\n'

step "Local chain and contracts"
if [[ "$ENGINE" == clique ]]; then
    # A bank's permissioned network: no public dev keys, gas paid in the chain's native coin.
    # The accounts are encrypted keystores (SCF_PASSWORD); the operator is funded in the genesis.
    for name in "$OPERATOR" "$SUPPLIER" "$BUYER" "$FINANCIER" "$SUPPLIER2"; do run account new "$name"; done
    run node start --engine clique --fund "$OPERATOR"
    for name in "$SUPPLIER" "$BUYER" "$FINANCIER" "$SUPPLIER2"; do run account fund "$name" --amount 10 --as "$OPERATOR"; done
else
    run node start
fi
run deploy --as "$OPERATOR"

step "Participants (the operator admits them, with KYC expiry)"
run participant add "Kowloon Precision Parts Ltd" --address "$SUPPLIER" --role supplier --as "$OPERATOR"
run participant add "Tsuen Wan Electronics Ltd" --address "$BUYER" --role buyer --as "$OPERATOR"
run participant add "Harbour Trade Finance Ltd" --address "$FINANCIER" --role financier --as "$OPERATOR"
run participant add "Sham Shui Po Textiles Ltd" --address "$SUPPLIER2" --role supplier --as "$OPERATOR"

step "Settlement money (test HKD)"
run token mint --to "Harbour Trade Finance Ltd" --amount 2000000.00 --as "$OPERATOR"
run token mint --to "Tsuen Wan Electronics Ltd" --amount 1000000.00 --as "$OPERATOR"

step "Invoices: issue (supplier) and confirm (buyer)"
printf 'Purchase order 4471: 5,000 precision bearings\n' > "$SCF_HOME/INV-2026-0417.txt"
INV1="$(issued_id invoice issue --as "$SUPPLIER" --buyer "Tsuen Wan Electronics Ltd" --number INV-2026-0417 \
        --amount 125000.00 --due "$DUE1" --doc "$SCF_HOME/INV-2026-0417.txt" --json)"
echo "issued invoice $INV1"
INV2="$(issued_id invoice issue --as "$SUPPLIER" --buyer "Tsuen Wan Electronics Ltd" --number INV-2026-0418 \
        --amount 48250.50 --due "$DUE2" --json)"
echo "issued invoice $INV2 (INV-2026-0418, HKD 48,250.50)"
INV3="$(issued_id invoice issue --as "$SUPPLIER2" --buyer "Tsuen Wan Electronics Ltd" --number SSP-88012 \
        --amount 76000.00 --due "$DUE3" --json)"
echo "issued invoice $INV3 (SSP-88012 by Sham Shui Po Textiles, HKD 76,000.00)"
INV4="$(issued_id invoice issue --as "$SUPPLIER" --buyer "Tsuen Wan Electronics Ltd" --number INV-2026-0419 \
        --amount 9900.00 --due "$DUE3" --json)"
echo "issued invoice $INV4 (INV-2026-0419, HKD 9,900.00)"
run invoice confirm "$INV1" --as "$BUYER"
run invoice confirm "$INV2" --as "$BUYER"
run invoice confirm "$INV3" --as "$BUYER"
run invoice cancel "$INV4" --as "$SUPPLIER"

step "Financing: the supplier lists, the financier funds (delivery versus payment)"
run invoice offer "$INV1" --as "$SUPPLIER" --to "Harbour Trade Finance Ltd" --min-advance 110000.00
# The financier pays 112,500.00 now and is due 118,750.00 of the buyer's payment;
# the other 6,250.00 is the supplier's reserve, paid to it by the contract when the buyer pays.
run invoice finance "$INV1" --as "$FINANCIER" --advance 112500.00 --due 118750.00
run invoice offer "$INV3" --as "$SUPPLIER2" --min-advance 70000.00
run invoice finance "$INV3" --as "$FINANCIER" --discount-rate 6.5%

step "Rules that protect the financier: one invoice, one financing, ever (enforced by the contract)"
refused invoice finance "$INV1" --as "$FINANCIER" --advance 100000.00
# The same invoice number again, in another spelling, or with one cent or one day changed:
# the contract keys an invoice on (supplier, normalised number), whatever else changes.
refused invoice issue --as "$SUPPLIER" --buyer "Tsuen Wan Electronics Ltd" --number "inv 2026/0417" \
        --amount 125000.00 --due "$DUE1"
refused invoice issue --as "$SUPPLIER" --buyer "Tsuen Wan Electronics Ltd" --number INV-2026-0417 \
        --amount 125000.01 --due "$DUE1"
refused invoice issue --as "$SUPPLIER" --buyer "Tsuen Wan Electronics Ltd" --number INV-2026-0417 \
        --amount 125000.00 --due "$(day 61)"
refused invoice issue --as "$SUPPLIER" --buyer "Tsuen Wan Electronics Ltd" --number "ＩＮＶ－２０２６－０４１７" \
        --amount 125000.00 --due "$DUE1"
# A cancelled invoice never frees its number.
refused invoice issue --as "$SUPPLIER" --buyer "Tsuen Wan Electronics Ltd" --number INV-2026-0419 \
        --amount 9900.00 --due "$DUE3"
# No listing, no financing: the holder's consent is an asking advance on chain.
refused invoice finance "$INV2" --as "$FINANCIER" --advance 40000.00
refused invoice repay "$INV1" --as "$SUPPLIER" --amount 100.00

step "Repayment: the financier's due to the holder, the reserve to the supplier, in one transaction"
run invoice repay "$INV1" --as "$BUYER" --amount 125000.00
run invoice repay "$INV3" --as "$BUYER" --amount 30000.00

step "The ledger on chain"
for id in "$INV1" "$INV2" "$INV3" "$INV4"; do echo; run invoice show "$id"; done
echo
run token balance "Kowloon Precision Parts Ltd"
run token balance "Harbour Trade Finance Ltd"
run token balance "Tsuen Wan Electronics Ltd"

step "The indexed ledger (database; every command above synced it)"
run index status
run invoice list
run invoice history "$INV1"
run verify

step "Financing decisions from the indexed ledger (policy: examples/policy.toml)"
run invoice offer "$INV2" --as "$SUPPLIER" --to "Harbour Trade Finance Ltd" --min-advance 40000.00
run finance quote "$INV2" --as "$FINANCIER" --policy examples/policy.toml
run finance execute 1 --as "$FINANCIER"
run finance quote "$INV1" --as "$FINANCIER" --policy examples/policy.toml
refused finance execute 2 --as "$FINANCIER"
run finance auto --as "$FINANCIER" --policy examples/policy.toml --dry-run

step "Multi-tier: the supplier pays its own supplier with part of a confirmed invoice"
INV5="$(issued_id invoice issue --as "$SUPPLIER" --buyer "Tsuen Wan Electronics Ltd" --number INV-2026-0420 \
        --amount 100000.00 --due "$DUE1" --json)"
echo "issued invoice $INV5 (INV-2026-0420, HKD 100,000.00)"
run invoice confirm "$INV5" --as "$BUYER"
# Kowloon Precision Parts (tier 1) pays Sham Shui Po Textiles (tier 2) for purchase order
# PO-SSP-2231 with HKD 30,000.00 of the buyer's promise, and keeps the other HKD 70,000.00.
read -r PART1 PART2 < <(part_ids invoice split "$INV5" --as "$SUPPLIER" \
        --part "Sham Shui Po Textiles Ltd:30000.00:PO-SSP-2231" --keep 70000.00 --json)
# The split invoice is closed: its open amount lives in its parts.
refused invoice offer "$INV5" --as "$SUPPLIER" --min-advance 50000.00
# A part moves whole, as payment, with a reference (recorded as its hash): the kept part pays PO-SSP-2240.
run invoice transfer "$PART2" --to "Sham Shui Po Textiles Ltd" --ref PO-SSP-2240 --as "$SUPPLIER"
# The tier-2 supplier lists its part; the financier decides at the buyer's grade, with the
# tier-2 supplier as the seller (its own KYC and limit), and funds it.
run invoice offer "$PART1" --as "$SUPPLIER2" --to "Harbour Trade Finance Ltd" --min-advance 25000.00
run finance quote "$INV5" --as "$FINANCIER" --policy examples/policy.toml
DECISION="$(decision_id finance quote "$PART1" --as "$FINANCIER" --policy examples/policy.toml --json)"
run finance show "$DECISION"
run finance execute "$DECISION" --as "$FINANCIER"
# The buyer pays the root across its open parts, pro rata: then the rest.
run invoice repay "$INV5" --as "$BUYER" --amount 40000.00
run invoice tree "$INV5"
run invoice repay "$INV5" --as "$BUYER" --amount 60000.00
run invoice tree "$INV5"
run verify

step "When things go wrong: a dispute resolved by a credit note (dilution is the seller's risk)"
INV6="$(issued_id invoice issue --as "$SUPPLIER" --buyer "Tsuen Wan Electronics Ltd" --number INV-2026-0421 \
        --amount 60000.00 --due "$DUE1" --json)"
echo "issued invoice $INV6 (INV-2026-0421, HKD 60,000.00)"
run invoice confirm "$INV6" --as "$BUYER"
run invoice offer "$INV6" --as "$SUPPLIER" --to "Harbour Trade Finance Ltd" --min-advance 50000.00
# Advance 54,000.00 now; the financier is due 57,000.00; the supplier's reserve is 3,000.00.
run invoice finance "$INV6" --as "$FINANCIER" --advance 54000.00 --due 57000.00
run invoice dispute "$INV6" --as "$BUYER" --reason "QC report 88-17: 200 bearings out of tolerance"
# A disputed receivable is not paid, moved, split or defaulted until the dispute is resolved.
refused invoice repay "$INV6" --as "$BUYER" --amount 1000.00
# The supplier credits 5,000.00 (the 200 bearings). The open 60,000.00 becomes 55,000.00, which no
# longer covers the financier's 57,000.00: the reserve absorbs 3,000.00 and the supplier pays the
# financier the other 2,000.00 in the same transaction, so the financier's due is never cut.
run invoice credit-note "$INV6" --amount 5000.00 --note "CN-2026-031: 200 bearings returned" --as "$SUPPLIER"
run invoice repay "$INV6" --as "$BUYER" --amount 55000.00
run invoice history "$INV6"

if [[ "$ENGINE" == anvil ]]; then
step "When things go wrong: defaults after the grace period, recovery, write-off and recourse"
DUE7="$(day 10)"
INV7="$(issued_id invoice issue --as "$SUPPLIER2" --buyer "Tsuen Wan Electronics Ltd" --number SSP-88020 \
        --amount 40000.00 --due "$DUE7" --json)"
echo "issued invoice $INV7 (SSP-88020 by Sham Shui Po Textiles, HKD 40,000.00, due $DUE7)"
INV8="$(issued_id invoice issue --as "$SUPPLIER" --buyer "Tsuen Wan Electronics Ltd" --number INV-2026-0422 \
        --amount 80000.00 --due "$DUE7" --json)"
echo "issued invoice $INV8 (INV-2026-0422, HKD 80,000.00, due $DUE7)"
run invoice confirm "$INV7" --as "$BUYER"
run invoice confirm "$INV8" --as "$BUYER"
run invoice offer "$INV7" --as "$SUPPLIER2" --to "Harbour Trade Finance Ltd" --min-advance 35000.00
# Recourse is the seller's liability: only with its consent, given in its listing.
run invoice offer "$INV8" --as "$SUPPLIER" --to "Harbour Trade Finance Ltd" --min-advance 70000.00 --recourse
# Without recourse: a loss stays with the financier. With recourse: the seller buys it back.
refused invoice finance "$INV7" --as "$FINANCIER" --advance 36000.00 --due 38000.00 --recourse
run invoice finance "$INV7" --as "$FINANCIER" --advance 36000.00 --due 38000.00
run invoice finance "$INV8" --as "$FINANCIER" --advance 72000.00 --due 76000.00 --recourse
refused invoice default "$INV8" --as "$FINANCIER"
# Eighteen days pass on the local chain: both are past due and past the 7-day grace period.
run node advance --days 18
run invoice overdue
run invoice default "$INV7" --as "$FINANCIER"
run invoice default "$INV8" --as "$FINANCIER"
refused invoice buy-back "$INV7" --as "$FINANCIER"
# Under recourse the seller pays the financier its outstanding due and takes the receivable back.
run invoice buy-back "$INV8" --as "$SUPPLIER"
# The financier writes its claim on the other off; the buyer later pays part of it (a recovery):
# the financier's due first, as always.
run invoice write-off "$INV7" --as "$FINANCIER"
run invoice repay "$INV7" --as "$BUYER" --amount 25000.00
run invoice show "$INV7"
run verify
run report defaults
run report disputes
else
    step "When things go wrong: defaults after the grace period (Anvil only)"
    echo "skipped: a default needs the due date plus the grace period to pass, and the clock of a"
    echo "proof-of-authority chain is nobody's to move (scf node advance is refused there); run the"
    echo "demo without SCF_ENGINE=clique to see defaults, write-offs and recourse"
fi

step "ERP intake: a supplier's export issued in batches, the buyer's approved payables, signed confirmations"
DUE9="$(day 120)"
EXPORT="$SCF_HOME/ssp-export.csv"
{ echo "number,buyer,amount,currency,due_date"
  for i in 1 2 3 4 5 6 7 8; do echo "SSP-9010$i,Tsuen Wan Electronics Ltd,$((i * 1000 + 250)).00,HKD,$DUE9"; done
  echo "SSP-90103,Tsuen Wan Electronics Ltd,500.00,HKD,$DUE9"
  echo "SSP-90109,Harbour Trade Finance Ltd,12.5O,HKD,2020-01-01"; } > "$EXPORT"
# The whole file is checked first: every bad row is named, and nothing is sent.
refused invoice import "$EXPORT" --as "$SUPPLIER2"
sed -i '$d' "$EXPORT"; sed -i '$d' "$EXPORT"
run invoice import "$EXPORT" --as "$SUPPLIER2" --result "$SCF_HOME/ssp-export-result.csv"
# Run again (as after an interruption): what is on chain already is not sent twice.
run invoice import "$EXPORT" --as "$SUPPLIER2"
PAYABLES="$SCF_HOME/approved-payables.csv"
{ echo "supplier,number,amount,due_date"
  for i in 1 2 3; do echo "Sham Shui Po Textiles Ltd,ssp 9010$i,$((i * 1000 + 250)).00,$DUE9"; done
  echo "Sham Shui Po Textiles Ltd,SSP-90104,4200.00,$DUE9"
  echo "Sham Shui Po Textiles Ltd,SSP-90199,100.00,$DUE9"; } > "$PAYABLES"
# The buyer confirms only what matches its approved payables exactly, and reports the rest.
run invoice approve "$PAYABLES" --as "$BUYER"
# The buyer's treasury signs the rest offline (EIP-712, no gas); anyone submits the signatures.
{ echo "supplier,number,amount,due_date"
  for i in 5 6 7 8; do echo "Sham Shui Po Textiles Ltd,SSP-9010$i,$((i * 1000 + 250)).00,$DUE9"; done; } > "$PAYABLES"
run invoice sign-confirmation --payables "$PAYABLES" --as "$BUYER" --out "$SCF_HOME/signed.jsonl"
run invoice confirm --signatures "$SCF_HOME/signed.jsonl" --as "$OPERATOR"
run invoice list --supplier "Sham Shui Po Textiles Ltd"
run verify

step "Reports"
run report exposure --by buyer --policy examples/policy.toml
run report aging
run report aging --as-of "$(day 100)"
run report portfolio --as "Harbour Trade Finance Ltd"
run report tiers

step "HTTP API and dashboard: each party sees its own book (scf serve)"
BUYER_KEY="$(shown scf api-key create --for "Tsuen Wan Electronics Ltd" >&2; scf api-key create --for "Tsuen Wan Electronics Ltd" 2>/dev/null)"
SSP_KEY="$(shown scf api-key create --for "Sham Shui Po Textiles Ltd" >&2; scf api-key create --for "Sham Shui Po Textiles Ltd" 2>/dev/null)"
OPS_KEY="$(shown scf api-key create --operator --label "operations desk" >&2; scf api-key create --operator --label "operations desk" 2>/dev/null)"
run api-key list
API_PORT="$(python -c 'from ledger.evm.node import free_port; print(free_port())')"
shown scf serve --port "$API_PORT" --follow
scf serve --port "$API_PORT" --follow > "$SCF_HOME/serve.log" 2>&1 &
SERVE_PID=$!
trap 'kill -TERM "$SERVE_PID" 2>/dev/null || true; scf node stop >/dev/null 2>&1 || true' EXIT
# Each request as a client makes it (the key in the Authorization header); a summary of each answer.
api() {
    local who="$1" key="$2" path="$3"
    printf '$ GET %s   (as %s)\n' "$path" "$who"
    python - "$API_PORT" "$key" "$path" <<'PY'
import json, sys, time, urllib.error, urllib.request
port, key, path = sys.argv[1:]
request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {key}"})
for _ in range(100):
    try:
        with urllib.request.urlopen(request) as r:
            status, body = r.status, json.load(r)
        break
    except urllib.error.HTTPError as e:
        status, body = e.code, json.load(e)
        break
    except urllib.error.URLError:
        time.sleep(0.1)
else:
    sys.exit("demo: scf serve did not answer")
if status >= 400:
    print(f"   {status} {body['title']}: {body['detail']}")
elif "items" in body:
    for i in body["items"]:
        print(f"   {i['invoice_id']:>3} {i['number'] or '(part)':<13} {i['status']:<14} {i['currency']} {i['outstanding']:>12} owed by {i['buyer']['name']}")
    print(f"   ({len(body['items'])} invoices; next page: {body['next_cursor']})")
elif "history" in body:
    tree = body["tree"]
    print(f"   {body['invoice_id']} {body['number'] or '(a part, tier %d)' % (body['depth'] + 1)} {body['status']}: {body['currency']} {body['outstanding']} outstanding,"
          f" {len(body['history'])} events" + (f", part of a tree of {tree['nodes']} receivables" if tree else ""))
else:
    print("   " + json.dumps(body)[:300])
PY
}
api buyer "$BUYER_KEY" "/api/me"
api buyer "$BUYER_KEY" "/api/invoices?status=Financed,PartiallyPaid&limit=5"
api buyer "$BUYER_KEY" "/api/invoices/$PART1"
# Another party's invoice does not exist for this key (404, not 403: ids are not enumerable).
api "Sham Shui Po Textiles" "$SSP_KEY" "/api/invoices/$INV1"
api operator "$OPS_KEY" "/api/invoices?overdue=true&limit=5"
api buyer "$BUYER_KEY" "/api/reports/exposure"
echo "   dashboard: http://127.0.0.1:$API_PORT/ (log in with a key), API docs: http://127.0.0.1:$API_PORT/docs"
kill -TERM "$SERVE_PID"; wait "$SERVE_PID" || true
echo "   scf serve stopped (SIGTERM to its PID $SERVE_PID)"

step "Done"
echo "The chain is stopped with its state saved. To bring it back in a new shell, run:"
AGAIN="SCF_HOME=$(quote "$SCF_HOME")"
[[ "$ENGINE" == clique ]] && AGAIN+=" SCF_PASSWORD=$(quote "$SCF_PASSWORD")"
printf '  %s\n' "$(shown cd "$ROOT" | cut -c3-) && source .venv/bin/activate && $AGAIN scf node start"
printf '  or, without activating: %s %s node start\n' "$AGAIN" "$(quote "$ROOT/.venv/bin/scf")"
