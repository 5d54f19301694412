"""The bench's size of what `make setup` installs, apart from what `make test` adds."""

from importlib import metadata
from pathlib import Path

from assistant.eval.bench import setup_mb, venv_mb


def installed_mb(name: str) -> float:
    files = metadata.distribution(name).files or []
    return sum(Path(str(f.locate())).stat().st_size for f in files
               if Path(str(f.locate())).is_file()) / 1e6


def test_setup_size_counts_the_runtime_requirements_and_not_the_test_extras():
    setup = setup_mb()
    assert setup is not None
    # chromadb and gradio are runtime requirements; playwright and pytest are test extras.
    assert setup > installed_mb("chromadb") + installed_mb("gradio")
    whole = venv_mb()
    assert whole is not None
    assert setup + installed_mb("playwright") + installed_mb("pytest") <= whole + 1


def test_setup_size_of_a_project_not_installed_is_unknown():
    assert setup_mb("no-such-project-here") is None
