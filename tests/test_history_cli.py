"""``llmbench history`` commands on the recorded sessions."""

from history_support import SESSIONS

from llmbench.cli import main


def test_import_is_idempotent_and_says_so(tmp_path, capsys):
    store = str(tmp_path / "h.sqlite")
    files = sorted(str(p) for p in SESSIONS.glob("*.json"))
    assert main(["history", "import", *files, "--history", store]) == 0
    out = capsys.readouterr().out
    assert out.count("+55 metric rows") == 3 and out.count("+15 metric rows") == 3
    assert "6 of 6 run(s) new" in out
    assert main(["history", "import", files[0], "--history", store]) == 0
    assert "already stored" in capsys.readouterr().out


def test_import_of_a_bad_file_is_an_error_naming_it(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"benchmarks": [], "provenance": {}}')
    assert main(["history", "import", str(bad), "--history", str(tmp_path / "h")]) == 2
    assert "bad.json: field 'provenance.date' is missing" in capsys.readouterr().err
