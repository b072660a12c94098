"""The command line's conventions: every command documented with an example,
`--as` is the acting party (old filter spellings warn), and reports find the
financier's policy as quote does."""

from __future__ import annotations

import json

from click.testing import CliRunner
from support.cli import cli_issue

from ledger.cli import main
from ledger.config import REPO_ROOT


def _commands(group, path=()):
    """Every command under ``group`` with its path (groups included)."""
    import click

    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


def test_cli_every_command_has_a_description_and_an_example():
    """The sqlite-utils rule, for commands added later too: a paragraph that
    says what the command does, then at least one `Example:` block."""
    runner = CliRunner()
    paths = [()] + [path for path, _ in _commands(main)]
    assert len(paths) > 40
    for path in paths:
        result = runner.invoke(main, [*path, "--help"], prog_name="scf")
        assert result.exit_code == 0, (path, result.output)
        text = result.output.split("Options:")[0]
        paragraphs = [p.strip() for p in text.split("\n\n")[1:] if p.strip()]  # after the usage line
        assert paragraphs, (path, result.output)
        description = paragraphs[0]
        assert not description.startswith("Example") and len(description.split()) >= 6, (path, description)
        assert "Example:" in paragraphs, (path, result.output)
        example = paragraphs[paragraphs.index("Example:") + 1]
        assert example.startswith("scf ") or example.startswith("SCF_"), (path, example)


def test_cli_as_is_never_a_filter():
    """--as is the acting party; where it used to filter, it is the deprecated
    spelling of the named filter (and says so in the help)."""
    import click

    for path, command in _commands(main):
        for param in command.params:
            if isinstance(param, click.Option) and "--as" in param.opts:
                assert param.name in ("as_name", "deprecated_as"), path
                if param.name == "deprecated_as":
                    assert (param.help or "").startswith("Deprecated spelling of --"), path


def _without_clock(data):
    """A report without its `as_of` time (the wall clock when past the last block's)."""
    return {k: v for k, v in data.items() if k != "as_of"} if isinstance(data, dict) else data


def _financed_invoice(cli):
    invoice_id = cli_issue(cli)
    assert cli("invoice", "confirm", str(invoice_id), "--as", "buyer").exit_code == 0
    assert cli("invoice", "offer", str(invoice_id), "--min-advance", "1.00").exit_code == 0
    assert cli("invoice", "finance", str(invoice_id), "--advance-rate", "90%").exit_code == 0
    return invoice_id


def test_cli_old_as_filter_spelling_warns_and_still_filters(cli):
    _financed_invoice(cli)
    for args, new, name in (
        (["report", "aging", "--json"], "--holder", "financier"),
        (["report", "exposure", "--by", "financier", "--json"], "--financier", "Harbour Trade Finance Ltd"),
        (["finance", "list", "--json"], "--financier", "financier"),
    ):
        current = cli(*args, new, name)
        assert current.exit_code == 0, current.output
        assert current.stderr == ""
        old = cli(*args, "--as", name)
        assert old.exit_code == 0, old.output
        assert old.stderr == f"warning: --as here is deprecated; use {new}\n"
        shown = _without_clock(json.loads(current.stdout))
        assert _without_clock(json.loads(old.stdout)) == shown
        assert shown != _without_clock(json.loads(cli(*args, new, "buyer").stdout)) or args[1] == "list", args
    both = cli("report", "aging", "--as", "financier", "--holder", "buyer")
    assert both.exit_code == 2, both.output
    assert both.stderr.splitlines()[-1] == "Error: --as and --holder name different parties; give --holder only"


def test_cli_reports_find_the_financiers_policy_as_quote_does(cli, home_copy):
    """`report exposure --financier` and `report portfolio --as` look up the
    financier's policy (<home>/policies/<name>.toml) when no --policy is given."""
    import shutil

    def exposure(*args: str):
        result = cli("report", "exposure", "--by", "financier", *args, "--json")
        assert result.exit_code == 0, result.output
        [row] = json.loads(result.output)["rows"]
        return row

    _financed_invoice(cli)
    assert exposure("--financier", "financier")["limit"] is None
    (home_copy.home / "policies").mkdir()
    shutil.copy(REPO_ROOT / "examples" / "policy.toml", home_copy.home / "policies" / "financier.toml")
    assert exposure("--financier", "financier")["limit"] == "20000000.00"
    assert exposure()["limit"] is None  # no financier named: no policy
    portfolio = cli("report", "portfolio", "--as", "financier", "--json")
    assert portfolio.exit_code == 0, portfolio.output
    broken = home_copy.home / "policies" / "financier.toml"
    broken.write_text("not toml [")
    refused = cli("report", "portfolio", "--as", "financier")
    assert refused.exit_code != 0 and refused.output.startswith(f"Error: {broken}"), refused.output
