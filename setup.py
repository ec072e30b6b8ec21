"""The build step pyproject.toml cannot say: ship the service playbooks inside the package.

``playbooks/`` stays at the top of the repository (it is part of the example estate); a built
govcloud carries a copy of it as ``govcloud/_playbooks``, made here at build time, so an
installed govcloud finds its playbooks and roles without the source checkout. Nothing under
``govcloud/`` is kept in git for it. An editable install needs no copy: it finds the
checkout's ``playbooks/`` (see ``govcloud.services.playbooks.playbook_folder``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
PACKAGED = ("govcloud", "_playbooks")


class BuildWithPlaybooks(build_py):
    """build_py, then playbooks/ copied into the built package as govcloud/_playbooks."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        if not PLAYBOOKS.joinpath("webhosting.yml").is_file():
            raise SystemExit(f"cannot build govcloud: {PLAYBOOKS} holds no webhosting.yml "
                             "(build from a source checkout or an sdist that has playbooks/)")
        dest = Path(self.build_lib).joinpath(*PACKAGED)
        shutil.rmtree(dest, ignore_errors=True)  # no file deleted from playbooks/ survives
        shutil.copytree(PLAYBOOKS, dest,
                        ignore=shutil.ignore_patterns("__pycache__", "*.retry", ".*"))


setup(cmdclass={"build_py": BuildWithPlaybooks})
