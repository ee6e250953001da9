import subprocess

from llmbench import environment


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
