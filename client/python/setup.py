"""Adds the generated tether.v1 package to the build (see generate_protos.py); everything else
about the package is declared in pyproject.toml."""

import os
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate_protos import generate  # noqa: E402


class BuildWithProtos(build_py):
    def run(self):
        super().run()
        generate(self.build_lib)


setup(cmdclass={"build_py": BuildWithProtos})
