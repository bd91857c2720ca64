"""The packages setuptools builds (everything else is in pyproject.toml).

The benchmark definitions stay at the repository's top level, benchmarks/, and ship inside
the package as seqbench/benchmarks/, so an installed seqbench can run them
(seqbench/launchers/plan.py finds either copy). pyproject.toml cannot map a folder into a
package next to package discovery, hence this file.
"""

from setuptools import find_namespace_packages, setup

setup(
    packages=[*find_namespace_packages(include=["seqbench*"]), "seqbench.benchmarks"],
    package_dir={"seqbench.benchmarks": "benchmarks"},
)
