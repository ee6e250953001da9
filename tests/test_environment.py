import subprocess

from llmbench.regression import environment


def test_cpu_fingerprint_names_device_hardware_and_versions():
    env = environment.fingerprint("cpu")
    assert env["device_class"] == "cpu"
    assert env["hardware_key"].startswith("cpu/") and env["hardware_key"].endswith(
        f"x{env['cpu_count']}")
    assert env["packages"]["torch"] and env["packages"]["llmbench"]
    assert env["python"].count(".") == 2


def test_provenance_reports_commit_and_dirty_flag(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "f").write_text("x")
    git = ["git", "-C", str(tmp_path), "-c", "user.email=a@b", "-c", "user.name=n"]
    subprocess.run([*git, "add", "f"], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    clean = environment.provenance.__wrapped__(str(tmp_path))
    assert len(clean["git_commit"]) == 40 and clean["git_dirty"] is False
    (tmp_path / "f").write_text("y")
    assert environment.provenance.__wrapped__(str(tmp_path))["git_dirty"] is True


def test_provenance_outside_git_has_no_commit(tmp_path):
    prov = environment.provenance.__wrapped__(str(tmp_path))
    assert prov["git_commit"] is None and prov["date"]


def test_same_platform_needs_hardware_isa_packages_python_and_threads():
    env = environment.fingerprint("cpu")
    assert environment.same_platform(env, dict(env))
    # one hardware key ("AMD EPYC" hides the model), two instruction sets: other float sums
    assert env["cpu_signature"]
    other_isa = {**env, "cpu_signature": "AVX2; cpu family 25 model 1 stepping 1"}
    assert not environment.same_platform(env, other_isa)
    assert not environment.same_platform(env, {**env, "torch_threads": 99})
    assert not environment.same_platform(env, {**env, "packages": {"torch": "0.0"}})
    assert not environment.same_platform(env, {**env, "hardware_key": "cpu/Other x2"})
    # baselines written before torch_threads was recorded are another platform
    assert not environment.same_platform({k: v for k, v in env.items() if k != "torch_threads"},
                                         env)
    assert not environment.same_platform(None, env)


def test_cuda_hardware_key_names_model_and_count(monkeypatch):
    monkeypatch.setattr(environment, "cuda_info",
                        lambda: {"gpu_name": "NVIDIA H200", "gpu_count": 2})
    assert environment.hardware_key("cuda") == "cuda/NVIDIA H200 x2"


def test_author_comes_from_the_environment_first(monkeypatch):
    monkeypatch.setenv("LLMBENCH_AUTHOR", "release-bot")
    assert environment.author() == "release-bot"
