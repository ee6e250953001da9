"""``llmbench profiles``: every profile, where it comes from, its resolved settings."""

from __future__ import annotations

import json
import textwrap

from llmbench.cli import main
from llmbench.profiles import PROFILES, load_registry


def test_lists_builtin_and_project_profiles_with_their_source(tmp_path, capsys):
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent("""
        [tool.llmbench.profiles.mine]
        extends = "opt-350m"
        [tool.llmbench.profiles.mine.lora]
        ranks = [4, 16, 64]
        """))
    assert main(["profiles", "--project", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert set(PROFILES) < set(lines)
    assert "built-in" in lines["embedded"]
    assert f"{tmp_path / 'pyproject.toml'} [tool.llmbench.profiles.mine]" in lines["mine"]
    assert "facebook/opt-350m r=4,16,64 steps=200" in lines["mine"]
    assert " hub, OPENAI_API_KEY " in lines["mine"]  # opt-350m from the hub; gpt-4o-mini
    assert f"project profiles read from: {tmp_path / 'pyproject.toml'}" in out


def test_one_profile_in_full_is_toml_that_loads_back_to_the_same_settings(tmp_path, capsys):
    assert main(["profiles", "smoke", "--project", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "# from: built-in" in out
    (tmp_path / "llmbench.toml").write_text(out.replace("[profiles.smoke", "[profiles.copy"))
    copy = load_registry([tmp_path / "llmbench.toml"]).get("copy")
    smoke = PROFILES["smoke"]
    assert (copy.lora, copy.quant, copy.rag) == (smoke.lora, smoke.quant, smoke.rag)


def test_json_and_errors(tmp_path, capsys):
    assert main(["profiles", "embedded", "--json", "--project", str(tmp_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0]["name"] == "embedded" and data[0]["lora"]["ranks"] == [8, 128, 256]
    assert main(["profiles", "nope", "--project", str(tmp_path)]) == 2
    assert "unknown profile 'nope'" in capsys.readouterr().err
    (tmp_path / "llmbench.toml").write_text('[profiles.x]\nextends = "smoke"\nrank = 8\n')
    assert main(["profiles", "--project", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'llmbench.toml'}: [profiles.x] unknown key 'rank'" in err
