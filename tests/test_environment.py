import subprocess
from types import SimpleNamespace

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


def fake_gpus(monkeypatch, count: int, *, name: str = "NVIDIA H100 80GB HBM3",
              driver: str = "550.54.15") -> None:
    """torch.cuda as a machine with ``count`` GPUs of one model shows it (tests only)."""
    import torch

    props = SimpleNamespace(name=name, total_memory=85_000_000_000, major=9, minor=0)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index=0: props)
    monkeypatch.setattr(torch.version, "cuda", "12.4")
    monkeypatch.setattr(environment, "nvidia_driver_version", lambda: driver)


def test_cuda_hardware_key_names_gpu_capability_driver_and_runtime(monkeypatch):
    fake_gpus(monkeypatch, 1)
    assert environment.hardware_key("cuda") == (
        "cuda/NVIDIA H100 80GB HBM3 cc9.0 driver 550.54.15 cuda 12.4")
    assert environment.hardware_key("cuda:0") == environment.hardware_key("cuda")
    env = environment.fingerprint("cuda")
    assert env["gpu_count"] == 1 and env["compute_capability"] == "9.0"
    assert env["driver_version"] == "550.54.15" and env["cuda_version"] == "12.4"


def test_the_cuda_key_is_the_same_in_an_xdist_worker_and_in_a_plain_run(monkeypatch):
    fake_gpus(monkeypatch, 8)  # a plain run on an 8-GPU runner
    plain = environment.hardware_key("cuda")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    fake_gpus(monkeypatch, 1)  # the worker sees only its own GPU
    assert environment.hardware_key("cuda") == plain
    assert "x8" not in plain and "x1" not in plain


def test_another_driver_or_gpu_is_another_cuda_key(monkeypatch):
    fake_gpus(monkeypatch, 1)
    key = environment.hardware_key("cuda")
    fake_gpus(monkeypatch, 1, driver="560.35.03")
    assert environment.hardware_key("cuda") != key
    fake_gpus(monkeypatch, 1, name="NVIDIA H200")
    assert environment.hardware_key("cuda") != key


def test_without_cuda_the_cuda_key_says_unknown(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert environment.hardware_key("cuda") == "cuda/unknown"
    assert environment.cuda_info() == {}


def test_the_driver_version_comes_from_nvidia_smi_without_nvml(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pynvml(name, *args, **kwargs):
        if name == "pynvml":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    calls = []

    def nvidia_smi(command, **kwargs):
        calls.append(command)
        return SimpleNamespace(returncode=0, stdout="550.54.15\n550.54.15\n")

    monkeypatch.setattr(builtins, "__import__", no_pynvml)
    monkeypatch.setattr(environment.subprocess, "run", nvidia_smi)
    assert environment.nvidia_driver_version.__wrapped__() == "550.54.15"
    assert calls[0][:2] == ["nvidia-smi", "--query-gpu=driver_version"]

    def missing(command, **kwargs):
        raise FileNotFoundError(command[0])

    monkeypatch.setattr(environment.subprocess, "run", missing)
    assert environment.nvidia_driver_version.__wrapped__() is None


def test_author_comes_from_the_environment_first(monkeypatch):
    monkeypatch.setenv("LLMBENCH_AUTHOR", "release-bot")
    assert environment.author() == "release-bot"
