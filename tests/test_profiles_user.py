"""Profiles from the user's project: pyproject.toml / llmbench.toml, extends, validation."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest

from llmbench.profiles import (
    PROFILES,
    LoraSettings,
    ProfileConfigError,
    QuantSettings,
    RagSettings,
    UnknownProfileError,
    load_registry,
    project_files,
    project_registry,
)
from llmbench.profiles.schema import coerce, describe, fields_of


def write(path, text):
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_extends_a_builtin_profile_and_overrides_per_suite(tmp_path):
    write(tmp_path / "pyproject.toml", """
        [project]
        name = "mine"

        [tool.llmbench.profiles.my-matrix]
        extends = "embedded"
        description = "our ranks, 4-bit and bf16 only, BM25 only"

        [tool.llmbench.profiles.my-matrix.lora]
        ranks = [64, 4, 16]
        target_modules = ["q_proj", "v_proj"]
        steps = 50
        lr = 1
        dataset_fraction = 0.5

        [tool.llmbench.profiles.my-matrix.quant]
        precisions = ["nf4", "bf16", "fp32"]
        qlora_steps = 10

        [tool.llmbench.profiles.my-matrix.rag]
        generators = ["smollm2-135m", "openai:gpt-4o"]
        retrievers = ["bm25"]
        questions = 10
        judge = "openai:o3-mini"
        """)
    registry = project_registry(tmp_path)
    profile = registry.get("my-matrix")
    embedded = PROFILES["embedded"]
    assert profile.description == "our ranks, 4-bit and bf16 only, BM25 only"
    assert profile.source == f"{tmp_path / 'pyproject.toml'} [tool.llmbench.profiles.my-matrix]"
    assert profile.lora == dataclasses.replace(
        embedded.lora, ranks=(4, 16, 64), target_modules=("q_proj", "v_proj"), steps=50,
        lr=1.0, dataset_fraction=0.5)
    assert isinstance(profile.lora.lr, float)  # lr = 1 and lr = 1.0 are the same setting
    # fp32 first: it is the reference the other precisions are measured against
    assert profile.quant == dataclasses.replace(embedded.quant, precisions=("fp32", "bf16", "nf4"),
                                                qlora_steps=10)
    assert profile.rag == dataclasses.replace(embedded.rag, generators=(
        "smollm2-135m", "openai:gpt-4o"), retrievers=("bm25",), questions=10,
        judge="openai:o3-mini")
    assert list(registry.profiles)[:len(PROFILES)] == list(PROFILES)  # built-ins still there


def test_extends_a_user_profile_across_files_and_describes_itself(tmp_path):
    write(tmp_path / "llmbench.toml", """
        [profiles.base]
        [profiles.base.lora]
        model = "tiny-opt-random"
        ranks = [2]
        [profiles.base.quant]
        model = "tiny-opt-random"
        precisions = ["fp32"]
        """)
    write(tmp_path / "pyproject.toml", """
        [tool.llmbench.profiles.child]
        extends = "base"
        [tool.llmbench.profiles.child.lora]
        ranks = [2, 4]
        """)
    registry = project_registry(tmp_path)
    base, child = registry.get("base"), registry.get("child")
    assert base.lora == LoraSettings(model="tiny-opt-random", ranks=(2,))
    assert base.quant == QuantSettings(model="tiny-opt-random", precisions=("fp32",))
    assert base.rag == RagSettings()  # a complete profile may leave RAG at its defaults
    assert child.lora.ranks == (2, 4) and child.quant == base.quant
    assert child.description == "base with lora.ranks=2,4"
    assert base.source.startswith(str(tmp_path / "llmbench.toml"))


def test_optional_setting_takes_none_and_an_extended_value_can_be_reset(tmp_path):
    write(tmp_path / "llmbench.toml", """
        [profiles.all-questions]
        extends = "smoke"
        [profiles.all-questions.rag]
        questions = "none"
        chunk_chars = 400
        """)
    rag = project_registry(tmp_path).get("all-questions").rag
    assert PROFILES["smoke"].rag.questions == 4
    assert rag.questions is None and rag.chunk_chars == 400


def test_project_is_found_by_walking_up_and_pyproject_without_table_is_fine(tmp_path):
    write(tmp_path / "pyproject.toml", "[project]\nname = 'x'\n")
    (tmp_path / "src" / "deep").mkdir(parents=True)
    assert project_files(tmp_path / "src" / "deep") == [tmp_path / "pyproject.toml"]
    assert list(project_registry(tmp_path / "src" / "deep").profiles) == list(PROFILES)


def test_unknown_profile_names_the_choices_and_the_files(tmp_path):
    write(tmp_path / "llmbench.toml", '[profiles.mine]\nextends = "smoke"\n')
    with pytest.raises(UnknownProfileError) as info:
        project_registry(tmp_path).get("nope")
    assert "'nope'" in str(info.value) and "smoke" in str(info.value)
    assert "mine" in str(info.value) and str(tmp_path / "llmbench.toml") in str(info.value)


# Every validation error: (file, text, what the message must contain besides the file name).
PY = "pyproject.toml"
STANDALONE = "llmbench.toml"
ERRORS = {
    "invalid-toml": (PY, "[tool.llmbench.profiles.x\n", ["not valid TOML"]),
    "unknown-llmbench-key": (PY, "[tool.llmbench]\nprofile = 1\n",
                             ["[tool.llmbench]", "unknown key 'profile'", "profiles"]),
    "standalone-unknown-top-key": (STANDALONE, "[tool.llmbench.profiles.x]\nextends='smoke'\n",
                                   ["the top level", "unknown key 'tool'", "[profiles.NAME]"]),
    "profiles-not-a-table": (PY, "[tool.llmbench]\nprofiles = 3\n",
                             ["[tool.llmbench.profiles]", "must be a table"]),
    "profile-not-a-table": (STANDALONE, "[profiles]\nx = 3\n", ["[profiles.x]", "table"]),
    "bad-name": (STANDALONE, '[profiles."a/b"]\nextends = "smoke"\n',
                 ["[profiles.a/b]", "letters, digits"]),
    "builtin-name": (STANDALONE, '[profiles.smoke]\nextends = "smoke"\n',
                     ["[profiles.smoke]", "built in"]),
    "unknown-profile-key": (PY, '[tool.llmbench.profiles.x]\nextends = "smoke"\nloras = 1\n',
                            ["[tool.llmbench.profiles.x]", "unknown key 'loras'",
                             "extends, description, cpu_threads, cpu_workers, lora, quant, rag"]),
    "bad-cpu-workers": (PY, '[tool.llmbench.profiles.x]\nextends = "smoke"\ncpu_workers = 0\n',
                        ["[tool.llmbench.profiles.x]", "'cpu_workers'", "\"auto\" or an integer"]),
    "extends-not-a-string": (STANDALONE, "[profiles.x]\nextends = 1\n",
                             ["[profiles.x]", "'extends' must be a string"]),
    "suite-not-a-table": (STANDALONE, '[profiles.x]\nextends = "smoke"\nlora = 8\n',
                          ["[profiles.x]", "'lora' must be a table of LoRA settings"]),
    "unknown-lora-key": (PY, '[tool.llmbench.profiles.x]\nextends = "smoke"\n'
                             '[tool.llmbench.profiles.x.lora]\nrank = [8]\n',
                         ["[tool.llmbench.profiles.x.lora]", "unknown key 'rank'",
                          "LoraSettings", "ranks"]),
    "unknown-quant-key": (STANDALONE, '[profiles.x]\nextends = "smoke"\n'
                                      '[profiles.x.quant]\nprecision = "nf4"\n',
                          ["[profiles.x.quant]", "unknown key 'precision'", "precisions"]),
    "unknown-rag-key": (STANDALONE, '[profiles.x]\nextends = "smoke"\n'
                                    '[profiles.x.rag]\ngenerator = "smollm2-135m"\n',
                        ["[profiles.x.rag]", "unknown key 'generator'", "generators"]),
    "ranks-as-string": (STANDALONE, '[profiles.x]\nextends = "smoke"\n'
                                    '[profiles.x.lora]\nranks = "8,64"\n',
                        ["[profiles.x.lora]", "key 'ranks' must be a list of integers",
                         "'8,64'"]),
    "rank-not-integer": (STANDALONE, '[profiles.x]\nextends = "smoke"\n'
                                     '[profiles.x.lora]\nranks = [8, 6.5]\n',
                         ["[profiles.x.lora]", "key 'ranks' must be a list of integers"]),
    "steps-as-float": (STANDALONE, '[profiles.x]\nextends = "smoke"\n'
                                   '[profiles.x.lora]\nsteps = 10.0\n',
                       ["[profiles.x.lora]", "key 'steps' must be an integer", "10.0"]),
    "lr-as-string": (STANDALONE, '[profiles.x]\nextends = "smoke"\n'
                                 '[profiles.x.lora]\nlr = "2e-4"\n',
                     ["[profiles.x.lora]", "key 'lr' must be a number"]),
    "bool-is-not-a-number": (STANDALONE, '[profiles.x]\nextends = "smoke"\n'
                                         '[profiles.x.lora]\nlora_dropout = true\n',
                             ["[profiles.x.lora]", "key 'lora_dropout' must be a number"]),
    "flag-as-string": (STANDALONE, '[profiles.x]\nextends = "smoke"\n'
                                   '[profiles.x.quant]\ngradient_checkpointing = "yes"\n',
                       ["[profiles.x.quant]", "'gradient_checkpointing' must be true or false"]),
    "model-not-a-string": (STANDALONE, '[profiles.x]\nextends = "smoke"\n'
                                       '[profiles.x.quant]\nmodel = ["a"]\n',
                           ["[profiles.x.quant]", "key 'model' must be a string"]),
    "questions-bad": (STANDALONE, '[profiles.x]\nextends = "smoke"\n'
                                  '[profiles.x.rag]\nquestions = "all"\n',
                      ["[profiles.x.rag]", "key 'questions' must be an integer or \"none\""]),
    "weights-wrong-length": (STANDALONE, '[profiles.x]\nextends = "smoke"\n'
                                         '[profiles.x.rag]\nensemble_weights = [1, 2, 3]\n',
                             ["[profiles.x.rag]", "'ensemble_weights' must be a list of 2 numbers"]),
    "rank-zero": (STANDALONE, '[profiles.x]\nextends = "smoke"\n[profiles.x.lora]\nranks = [0]\n',
                  ["[profiles.x.lora]", "ranks must all be >= 1"]),
    "unknown-precision": (STANDALONE, '[profiles.x]\nextends = "smoke"\n'
                                      '[profiles.x.quant]\nprecisions = ["nf5"]\n',
                          ["[profiles.x.quant]", "precisions", "'nf5'", "nf4-dq"]),
    "unknown-retriever": (STANDALONE, '[profiles.x]\nextends = "smoke"\n'
                                      '[profiles.x.rag]\nretrievers = ["colbert"]\n',
                          ["[profiles.x.rag]", "'colbert'", "multi-query"]),
    "unknown-generator": (STANDALONE, '[profiles.x]\nextends = "smoke"\n'
                                      '[profiles.x.rag]\ngenerators = ["gpt-4o"]\n',
                          ["[profiles.x.rag]", "'gpt-4o'", "openai:<model>"]),
    "unknown-judge": (STANDALONE, '[profiles.x]\nextends = "smoke"\n'
                                  '[profiles.x.rag]\njudge = "o3-mini"\n',
                      ["[profiles.x.rag]", "'o3-mini'", "openai:<model>"]),
    "incomplete": (STANDALONE, '[profiles.x]\n[profiles.x.lora]\nranks = [8]\n',
                   ["[profiles.x]", "no 'extends'", "[profiles.x.lora] needs 'model'"]),
    "incomplete-quant": (STANDALONE, '[profiles.x]\n[profiles.x.lora]\nmodel = "m"\n',
                         ["[profiles.x]", "[profiles.x.quant] needs 'model'"]),
    "extends-unknown": (STANDALONE, '[profiles.x]\nextends = "embeded"\n',
                        ["[profiles.x]", "extends unknown profile 'embeded'", "embedded"]),
    "extends-cycle": (STANDALONE, '[profiles.a]\nextends = "b"\n[profiles.b]\nextends = "a"\n',
                      ["extends itself through", "a -> b -> a"]),
}


@pytest.mark.parametrize("case", ERRORS)
def test_every_validation_error_names_file_table_and_key(tmp_path, case):
    filename, text, expected = ERRORS[case]
    path = write(tmp_path / filename, text)
    with pytest.raises(ProfileConfigError) as info:
        project_registry(tmp_path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    for part in expected:
        assert part in message, message


def test_a_profile_defined_in_both_files_is_an_error_naming_both(tmp_path):
    write(tmp_path / "llmbench.toml", '[profiles.x]\nextends = "smoke"\n')
    write(tmp_path / "pyproject.toml", '[tool.llmbench.profiles.x]\nextends = "embedded"\n')
    with pytest.raises(ProfileConfigError, match="defined twice") as info:
        project_registry(tmp_path)
    assert str(tmp_path / "llmbench.toml") in str(info.value)
    assert str(tmp_path / "pyproject.toml") in str(info.value)


def test_accepted_keys_and_types_come_from_the_settings_dataclasses():
    for suite, cls in (("lora", LoraSettings), ("quant", QuantSettings), ("rag", RagSettings)):
        assert list(fields_of(suite)) == [f.name for f in dataclasses.fields(cls)]
    assert describe(fields_of("lora")["ranks"]) == "a list of integers"
    assert describe(fields_of("rag")["questions"]) == 'an integer or "none"'
    assert coerce([1, 2.5], fields_of("rag")["ensemble_weights"]) == (1.0, 2.5)


def test_a_new_setting_is_accepted_without_a_second_list(tmp_path, monkeypatch):
    @dataclasses.dataclass(frozen=True)
    class Extended(LoraSettings):
        warmup_ratio: float = 0.0

    from llmbench.profiles import schema

    monkeypatch.setitem(schema.SETTINGS, "lora", Extended)
    schema.fields_of.cache_clear()
    try:
        assert "warmup_ratio" in fields_of("lora")
        write(tmp_path / "llmbench.toml", '[profiles.x]\n[profiles.x.lora]\nmodel = "m"\n'
                                          'warmup_ratio = 1\n[profiles.x.quant]\nmodel = "m"\n')
        assert load_registry([tmp_path / "llmbench.toml"]).get("x").lora.warmup_ratio == 1.0
    finally:
        schema.fields_of.cache_clear()


def test_cpu_threads_is_set_per_profile_and_inherited(tmp_path):
    write(tmp_path / "llmbench.toml", """
        [profiles.wide]
        extends = "embedded"
        cpu_threads = 2

        [profiles.wider-lora]
        extends = "wide"
        [profiles.wider-lora.lora]
        ranks = [4]

        [profiles.narrow]
        extends = "smoke"
        """)
    registry = project_registry(tmp_path)
    assert PROFILES["embedded"].cpu_threads == PROFILES["smoke"].cpu_threads == 1
    assert registry.get("wide").cpu_threads == 2
    assert registry.get("wider-lora").cpu_threads == 2
    assert registry.get("narrow").cpu_threads == 1


@pytest.mark.parametrize("value", ["0", "1.5", "true", '"2"'])
def test_a_bad_cpu_threads_names_the_key(tmp_path, value):
    write(tmp_path / "llmbench.toml", f"""
        [profiles.bad]
        extends = "embedded"
        cpu_threads = {value}
        """)
    with pytest.raises(ProfileConfigError, match=r"\[profiles.bad\].*'cpu_threads' must be an "
                                                 r"integer >= 1"):
        project_registry(tmp_path)
